"""Read-only, decoding views of Faust tables for pure domain functions.

Domain code asks ``view.get(key)`` and gets a model; it never sees bytes,
Faust or RocksDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class DecodingView(Mapping[str, V], Generic[V]):
    def __init__(self, table: Any, decode: Callable[[bytes], V]) -> None:
        self._table = table
        self._decode = decode

    def __getitem__(self, key: str) -> V:
        raw = self._table.get(key)
        if raw is None:
            raise KeyError(key)
        return self._decode(raw)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._table.get(key)
        return default if raw is None else self._decode(raw)

    def __iter__(self) -> Iterator[str]:
        for key in self._table:
            yield key.decode() if isinstance(key, bytes) else key

    def __len__(self) -> int:
        return len(self._table)
