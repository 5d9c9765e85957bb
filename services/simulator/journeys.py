"""Customer journeys as timed interaction events: pure, deterministic for a seed, no I/O.

Public API (other tools code against exactly this):

- `TimedEvent`, `journey_for`: one customer's journey, offsets from its start;
- `event_stream`: every customer's journey on a timeline (historical replay);
- `events_at_rate`: an endless mix at a fixed rate, for live publishing;
- `stamped`: set `occurred_at` on an event that does not have one yet.

Journeys' events leave `occurred_at` out (it depends on when they are played).
Event ids are `sim-s<seed>-c<customer>-j<round>-<index>`: unique within a seed,
the same on every run with that seed, so a re-run is deduplicated by Concierge.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from services.simulator.builder import JourneyId, JourneyWriter, TimedEvent, stamped
from services.simulator.customers import customer
from services.simulator.kinds import KINDS

__all__ = [
    "DEFAULT_IN_FLIGHT",
    "Journey",
    "TimedEvent",
    "event_stream",
    "events_at_rate",
    "journey_for",
    "journey_of_kind",
    "planned_journey",
    "send_offsets",
    "stamped",
]

# Journeys under way at once when publishing at a rate: enough that customers
# interleave like real traffic, few enough that each journey still completes
# within a short run (about in_flight * journey length / rate seconds).
DEFAULT_IN_FLIGHT: Final = 200

_KIND_NAMES: Final = tuple(KINDS)
_KIND_WEIGHTS: Final = tuple(kind.weight for kind in KINDS.values())


@dataclass(frozen=True)
class Journey:
    kind: str
    events: tuple[TimedEvent, ...]


def _writer(customer_number: int, seed: int, round_: int) -> JourneyWriter:
    # A string seed is hashed the same way on every run and platform (unlike
    # hash()), and gives each journey its own independent sequence.
    rng = random.Random(f"journey:{seed}:{customer_number}:{round_}")
    return JourneyWriter(JourneyId(seed, customer_number, round_), rng)


def planned_journey(customer_number: int, seed: int, round_: int = 0) -> Journey:
    """Customer `customer_number`'s `round_`-th journey (0 is `journey_for`'s), with its kind."""
    writer = _writer(customer_number, seed, round_)
    kind = writer.rng.choices(_KIND_NAMES, weights=_KIND_WEIGHTS)[0]
    KINDS[kind].build(writer, customer(customer_number))
    return Journey(kind, tuple(writer.events()))


def journey_of_kind(
    kind: str, customer_number: int, seed: int, round_: int = 0
) -> list[TimedEvent]:
    """A journey of a chosen kind (a key of `KINDS`), e.g. to demonstrate one story."""
    writer = _writer(customer_number, seed, round_)
    writer.rng.random()  # the draw `planned_journey` spends on choosing the kind
    KINDS[kind].build(writer, customer(customer_number))
    return writer.events()


def journey_for(customer_number: int, seed: int) -> list[TimedEvent]:
    """Customer `customer_number`'s (1-based) journey for `seed`; offsets increase from 0."""
    return list(planned_journey(customer_number, seed).events)


def event_stream(
    customers: int, seed: int, start: datetime, spread_seconds: float
) -> Iterator[tuple[datetime, str, dict[str, Any]]]:
    """Every customer's journey, starts spread over `spread_seconds` after `start`, in time order.

    Yields (occurred_at, channel, event with occurred_at set). Journeys last up to
    days, so for events Concierge will accept (at most 5 minutes in the future)
    put `start` far enough in the past.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if customers < 0 or spread_seconds < 0:
        raise ValueError("customers and spread_seconds must not be negative")
    starts = random.Random(f"starts:{seed}")
    timelines = []
    for number in range(1, customers + 1):
        began = start + timedelta(seconds=starts.uniform(0.0, spread_seconds))
        timelines.append(
            [
                (_whole_ms(began + timedelta(seconds=timed.offset_seconds)), number, index, timed)
                for index, timed in enumerate(journey_for(number, seed))
            ]
        )
    # Ties (same instant) are broken by customer then position: still deterministic.
    for occurred_at, _, _, timed in heapq.merge(*timelines):
        yield occurred_at, timed.channel, stamped(timed.event, occurred_at)


def _whole_ms(at: datetime) -> datetime:
    # occurred_at is written with milliseconds; the instant yielded must be
    # the one written, or a consumer comparing the two sees a difference.
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def send_offsets(rate: float, duration: float) -> Iterator[float]:
    """Send times of a run: i / rate for every i with i / rate < duration."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    index = 0
    while (offset := index / rate) < duration:
        yield offset
        index += 1


def events_at_rate(
    customers: int,
    seed: int,
    rate: float,
    duration: float,
    *,
    in_flight: int = DEFAULT_IN_FLIGHT,
) -> Iterator[tuple[float, str, dict[str, Any]]]:
    """(send offset in seconds, channel, event) at `rate` events/s for `duration` seconds.

    Up to `in_flight` customers are mid-journey at once; each send takes the next
    event of one of them, picked at random, so journeys interleave but each
    keeps its own order. A finished customer goes to the back of the queue and
    later starts their next journey (round 1, 2, ...), so any duration can be
    filled. Events have no `occurred_at`: set it with `stamped` at send time.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if in_flight < 1:
        raise ValueError("in_flight must be at least 1")
    picker = random.Random(f"rate:{seed}")
    rounds = dict.fromkeys(range(1, customers + 1), 0)
    waiting = deque(rounds)
    active: list[tuple[int, deque[TimedEvent]]] = []

    def start_next() -> tuple[int, deque[TimedEvent]]:
        number = waiting.popleft()
        journey = planned_journey(number, seed, rounds[number])
        rounds[number] += 1
        return number, deque(journey.events)

    while waiting and len(active) < in_flight:
        active.append(start_next())
    for offset in send_offsets(rate, duration):
        slot = picker.randrange(len(active))
        number, pending = active[slot]
        timed = pending.popleft()
        if not pending:
            waiting.append(number)
            active[slot] = start_next()
        yield offset, timed.channel, timed.event
