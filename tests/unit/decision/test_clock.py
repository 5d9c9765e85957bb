"""Local days and clock times in the customer's zone, and the caches behind them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.decision.domain.clock import format_moment, moment_texts, utc_text

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
# 30 March 2025: Paris springs forward at 01:00 UTC (02:00 CET -> 03:00 CEST).
SPRING = datetime(2025, 3, 30, 0, 30, tzinfo=UTC)  # 01:30 CET, before the change
# 26 October 2025: Paris falls back at 01:00 UTC (03:00 CEST -> 02:00 CET).
AUTUMN = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first of two


@pytest.mark.parametrize(
    ("at", "now", "expected"),
    [
        # The day of the spring change is 23 hours long: 22:59 UTC is its last minute.
        (SPRING, datetime(2025, 3, 30, 21, 59, tzinfo=UTC), "01:30"),
        (SPRING, datetime(2025, 3, 30, 22, 0, tzinfo=UTC), "30 Mar 01:30"),
        (SPRING, datetime(2025, 3, 29, 22, 59, tzinfo=UTC), "30 Mar 01:30"),  # 23:59 CET
        (SPRING, datetime(2025, 3, 29, 23, 0, tzinfo=UTC), "01:30"),  # midnight
        # The day of the autumn change is 25 hours long: 22:59 UTC is its last minute.
        (AUTUMN, datetime(2025, 10, 26, 22, 59, tzinfo=UTC), "02:30"),
        (AUTUMN, datetime(2025, 10, 26, 23, 0, tzinfo=UTC), "26 Oct 02:30"),
        (AUTUMN + timedelta(hours=1), AUTUMN, "02:30"),  # 02:30 CET, the second one
        (AUTUMN, datetime(2025, 10, 25, 21, 59, tzinfo=UTC), "26 Oct 02:30"),  # 23:59 CEST
    ],
)
def test_format_moment_follows_the_local_day_across_clock_changes(
    at: datetime, now: datetime, expected: str
) -> None:
    assert format_moment(at, now, PARIS) == expected


def test_moment_texts_depend_on_the_zone_and_the_instant_only() -> None:
    at = datetime(2025, 5, 1, 2, 15, tzinfo=UTC)  # 1 May in Paris, still 30 April in New York
    assert moment_texts(at, PARIS) == (at.astimezone(PARIS).date(), "04:15", "1 May 04:15")
    assert moment_texts(at, NEW_YORK) == (
        at.astimezone(NEW_YORK).date(),
        "22:15",
        "30 Apr 22:15",
    )
    # The same instant with another tzinfo (as parsed from JSON) reads the same.
    elsewhere = at.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert moment_texts(elsewhere, PARIS) == moment_texts(at, PARIS)


def test_an_instant_reads_the_same_in_utc_whichever_offset_it_came_with() -> None:
    noon = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    paris = datetime(2025, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert utc_text(noon) == noon.isoformat() == "2025-05-01T12:00:00+00:00"
    # Equal instants share a cache entry: the text must not depend on which came first.
    assert utc_text(paris) == "2025-05-01T12:00:00+00:00"
