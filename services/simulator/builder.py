"""Writing one journey: events on a running clock, with deterministic ids.

`occurred_at` is deliberately absent from a journey's events: it depends on
when the journey is played (a historical stream, or the moment the publisher
sends it), so the caller sets it with `stamped`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from libs.contract.interaction import INTERACTION_SCHEMA

# Channel systems never report two steps of one journey at the same instant;
# a floor on gaps keeps offsets strictly increasing, so order is unambiguous.
MIN_GAP_SECONDS: Final = 0.5


@dataclass(frozen=True)
class TimedEvent:
    """One event of a journey, `offset_seconds` after the journey's start."""

    offset_seconds: float
    channel: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JourneyId:
    """Which journey this is: event ids derive from it, so they are unique and stable."""

    seed: int
    customer_number: int
    round: int

    def event_id(self, index: int) -> str:
        return f"sim-s{self.seed}-c{self.customer_number}-j{self.round}-{index}"

    def suffix(self) -> str:
        """For ids one journey creates once (order, case): unique across journeys."""
        return f"s{self.seed}-c{self.customer_number}-j{self.round}"


class JourneyWriter:
    """Collects one journey's events; each `emit` comes a random gap after the last."""

    def __init__(self, journey: JourneyId, rng: random.Random) -> None:
        self.journey = journey
        self.rng = rng
        self._clock = 0.0
        self._events: list[TimedEvent] = []

    @property
    def elapsed(self) -> float:
        """Seconds from the journey's start to its latest event (or pause)."""
        return self._clock

    def pause(self, low: float, high: float) -> None:
        """A break between two parts of the journey (minutes, hours, days)."""
        self._clock += self.rng.uniform(low, high)

    def session(self, channel: str) -> str:
        return f"sess-{channel}-{self.rng.getrandbits(48):012x}"

    def emit(
        self,
        channel: str,
        event_type: str,
        identity: dict[str, str],
        attributes: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        gap: tuple[float, float] = (3.0, 40.0),
    ) -> dict[str, Any]:
        if self._events:
            self._clock += max(MIN_GAP_SECONDS, self.rng.uniform(*gap))
        event: dict[str, Any] = {
            "schema": INTERACTION_SCHEMA,
            "event_id": self.journey.event_id(len(self._events)),
            "type": event_type,
            "channel": channel,
            "identity": dict(identity),
        }
        if session is not None:
            event["session_id"] = session
        event["attributes"] = attributes or {}
        self._events.append(TimedEvent(round(self._clock, 3), channel, event))
        return event

    def events(self) -> list[TimedEvent]:
        return list(self._events)


def stamped(event: dict[str, Any], occurred_at: datetime) -> dict[str, Any]:
    """A copy of `event` with `occurred_at` set (RFC 3339, UTC, milliseconds)."""
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    text = occurred_at.astimezone(UTC).isoformat(timespec="milliseconds")
    result: dict[str, Any] = {}
    for key, value in event.items():
        if key == "occurred_at":
            continue
        result[key] = value
        # Where a channel system puts it, so dry-run output reads naturally.
        if key == "channel":
            result["occurred_at"] = text.replace("+00:00", "Z")
    return result
