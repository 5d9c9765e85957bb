"""A metric's labelled children, looked up once per label set.

``Counter.labels(...)`` validates the values, takes a lock and builds a key on
every call: a few µs, asked once or twice per record on the hot path of a
stage. The child for a label set never changes, so it is memoised.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any


def children(metric: Any, max_label_sets: int = 1024) -> Callable[..., Any]:
    """``metric.labels`` memoised (label values must be hashable: str or StrEnum)."""
    return lru_cache(maxsize=max_label_sets)(metric.labels)
