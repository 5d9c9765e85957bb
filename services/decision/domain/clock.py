"""Calendar days and clock times in the customer's timezone.

"Per day" caps follow the customer's calendar, not UTC's: an offer at 23:30 and
one at 00:30 local time are on different days. Times in reasons ("since 10:02")
are shown in the same zone so a store associate reads the customer's clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from libs.context.model import CustomerContext
from services.decision.domain.policies import CapPolicy


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def customer_zone(context: CustomerContext, policy: CapPolicy) -> tzinfo:
    """The profile's timezone when enabled and valid, else the policy's."""
    if policy.use_customer_timezone:
        name = context.profile.timezone
        if name:
            zone = _zone(name)
            if zone is not None:
                return zone
    fallback = _zone(policy.timezone)
    assert fallback is not None  # validated when the policy was loaded
    return fallback


def day_window(now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The calendar day containing ``now`` in ``zone``: [midnight, next midnight)."""
    return _day(now.astimezone(zone).date(), zone)


@lru_cache(maxsize=4096)
def _day(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    # Asked on every offer decision; a few thousand (day, zone) pairs cover any moment.
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


@lru_cache(maxsize=4096)
def utc_text(at: datetime) -> str:
    """``at`` as an ISO 8601 UTC timestamp (``2025-05-01T12:00:00+00:00``).

    Cached: payloads quote the same context instants (cart lines, complaints,
    the last contact) on decision after decision, and ``isoformat`` costs 1.5-2 µs
    here. Converted to UTC first, so equal instants always read the same.
    """
    return at.astimezone(UTC).isoformat()


def format_moment(at: datetime, now: datetime, zone: tzinfo) -> str:
    """``10:02`` today, ``3 May 10:02`` on another day, in the customer's zone."""
    day, same_day, other_day = moment_texts(at, zone)
    return same_day if day == now.astimezone(zone).date() else other_day


def moment_texts(at: datetime, zone: tzinfo) -> tuple[date, str, str]:
    """``at``'s day in ``zone``, and how :func:`format_moment` renders it on that day
    (``10:02``) and on any other (``3 May 10:02``).

    Apart from ``now``'s day, so that a caller may cache the texts of a moment it
    quotes again and again (a complaint's opening) and look up only ``now``'s day
    on each decision.
    """
    local = at.astimezone(zone)
    clock = f"{local.hour:02d}:{local.minute:02d}"  # strftime is several times slower
    return local.date(), clock, f"{local.day} {_MONTHS[local.month - 1]} {clock}"


def format_day(at: datetime, zone: tzinfo) -> str:
    local = at.astimezone(zone)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}"


# English abbreviations whatever the process locale: reasons must read the same everywhere.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
