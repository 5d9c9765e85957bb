from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.decision.domain.durations import format_duration, humanize, parse_duration


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("14d", timedelta(days=14)),
        ("1w", timedelta(weeks=1)),
        (" 5 m ", timedelta(minutes=5)),
    ],
)
def test_parse(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize("text", ["10", "m", "1.5h", "-1d", "10 minutes", ""])
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**8))
def test_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=1), "1 second"),
        (timedelta(seconds=240), "4 minutes"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(days=3), "3 days"),
    ],
)
def test_humanize(value: timedelta, text: str) -> None:
    assert humanize(value) == text
