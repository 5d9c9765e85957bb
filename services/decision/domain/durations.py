"""Durations as policy authors write them: ``90s``, ``10m``, ``2h``, ``14d``, ``1w``.

Config files say ``within: 10m`` rather than ``within: 600`` because a person
reviewing a policy change must see the unit; bare numbers are rejected so that
"30" never silently means thirty seconds to one reader and thirty days to another.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``"10m"`` -> ``timedelta(minutes=10)``; raises ``ValueError`` with the accepted forms."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"invalid duration {text!r}:"
            " use a whole number and a unit s, m, h, d or w (e.g. 10m, 14d)"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact spelling, so a round trip through config is lossless."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _coerce(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError("expected a duration such as 10m, 2h or 14d")


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str),
]
"""A ``timedelta`` field that accepts and emits the ``10m`` spelling."""


def humanize(value: timedelta) -> str:
    """``timedelta(seconds=250)`` -> ``"4 minutes"``: for reasons people read, not for config."""
    seconds = max(0, int(value.total_seconds()))
    for name, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = round(seconds / size)
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
