"""Journeys: deterministic for a seed, valid per the contract, and ordered sensibly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.contract.interaction import InteractionEvent
from libs.contract.vocabulary import allowed_channels
from services.simulator.customers import PHONE_POOL_SIZE, customer
from services.simulator.journeys import (
    Journey,
    event_stream,
    events_at_rate,
    journey_for,
    journey_of_kind,
    planned_journey,
    stamped,
)
from services.simulator.kinds import KINDS

START = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def assert_valid(event: dict[str, Any]) -> InteractionEvent:
    """As intake would judge it: envelope, typed attributes and channel rules."""
    parsed = InteractionEvent.from_sender(event)
    parsed.typed_attributes()
    assert parsed.channel in allowed_channels(parsed.type), event
    return parsed


def test_a_journey_is_the_same_for_the_same_customer_and_seed() -> None:
    for number in (1, 2, 57, 999):
        assert journey_for(number, seed=7) == journey_for(number, seed=7)


def test_seeds_change_what_customers_do_but_not_who_they_are() -> None:
    differing = [n for n in range(1, 21) if journey_for(n, 1) != journey_for(n, 2)]
    assert len(differing) >= 15
    ids = {e.event["identity"].get("customer_id") for e in journey_for(3, 1) + journey_for(3, 2)}
    assert ids <= {"cust-000003", None}


def test_streams_are_deterministic_for_a_seed() -> None:
    assert list(event_stream(50, 5, START, 600)) == list(event_stream(50, 5, START, 600))
    assert list(events_at_rate(50, 5, 100, 5)) == list(events_at_rate(50, 5, 100, 5))


def test_every_event_of_a_stream_is_valid_and_its_id_unique() -> None:
    seen: set[str] = set()
    for occurred_at, channel, event in event_stream(400, 11, START, 3600):
        parsed = assert_valid(event)
        assert parsed.channel.value == channel
        assert parsed.occurred_at == occurred_at
        assert event["event_id"] not in seen
        seen.add(event["event_id"])
    assert len(seen) > 2000


def test_events_at_rate_recycle_customers_with_fresh_valid_events() -> None:
    seen: set[str] = set()
    rounds: Counter[str] = Counter()
    for _, channel, event in events_at_rate(5, 3, rate=100, duration=10):
        assert "occurred_at" not in event
        assert_valid(stamped(event, START))
        assert event["channel"] == channel
        assert event["event_id"] not in seen
        seen.add(event["event_id"])
        rounds[event["event_id"].split("-")[3]] += 1
    assert len(seen) == 1000
    assert len(rounds) > 5  # every customer took many journeys, each with new ids


@settings(max_examples=150, deadline=None)
@given(
    number=st.integers(1, 3 * PHONE_POOL_SIZE),
    seed=st.integers(-(2**31), 2**31),
    round_=st.integers(0, 50),
)
def test_any_journey_of_any_customer_is_valid(number: int, seed: int, round_: int) -> None:
    journey = planned_journey(number, seed, round_)
    assert journey.events
    offsets = [timed.offset_seconds for timed in journey.events]
    assert offsets[0] == 0
    assert offsets == sorted(offsets)
    assert len(set(offsets)) == len(offsets)
    for timed in journey.events:
        assert timed.channel == timed.event["channel"]
        assert_valid(stamped(timed.event, START + timedelta(seconds=timed.offset_seconds)))


def test_the_mix_contains_every_kind_roughly_by_weight() -> None:
    kinds = Counter(planned_journey(n, 7).kind for n in range(1, 4001))
    total_weight = sum(kind.weight for kind in KINDS.values())
    for name, kind in KINDS.items():
        expected = 4000 * kind.weight / total_weight
        assert 0.6 * expected < kinds[name] < 1.4 * expected, (name, kinds[name])


def test_a_chosen_kind_is_the_journey_the_mix_would_have_given() -> None:
    for number in range(1, 30):
        journey: Journey = planned_journey(number, 9)
        assert journey_of_kind(journey.kind, number, 9) == list(journey.events)


def test_the_stream_is_in_time_order_and_starts_are_spread() -> None:
    stream = list(event_stream(100, 2, START, spread_seconds=600))
    times = [occurred_at for occurred_at, _, _ in stream]
    assert times == sorted(times)
    firsts: dict[str, datetime] = {}
    for occurred_at, _, event in stream:
        firsts.setdefault(event["event_id"].split("-")[2], occurred_at)
    assert len(firsts) == 100
    assert all(START <= first <= START + timedelta(seconds=600) for first in firsts.values())
    assert max(firsts.values()) - min(firsts.values()) > timedelta(seconds=300)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(event_stream(1, 1, datetime(2025, 5, 1), 10))


def test_stamped_sets_occurred_at_in_utc_and_leaves_the_original_alone() -> None:
    event = journey_for(1, 1)[0].event
    paris = datetime(2025, 5, 1, 16, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=2)))
    result = stamped(event, paris)
    assert result["occurred_at"] == "2025-05-01T14:00:00.250Z"
    assert "occurred_at" not in event
    assert list(result)[:5] == ["schema", "event_id", "type", "channel", "occurred_at"]
    with pytest.raises(ValueError, match="timezone-aware"):
        stamped(event, datetime(2025, 5, 1))


def test_customers_have_stable_fictional_identifiers() -> None:
    first, again = customer(42), customer(42)
    assert first == again
    assert first.customer_id == "cust-000042"
    assert str(first.phone).startswith("+447700900")
    assert first.email.endswith("@example.com")
    phones = [customer(n).phone for n in range(1, PHONE_POOL_SIZE + 1)]
    assert len(set(phones)) == PHONE_POOL_SIZE
    # Beyond the pool no number is shared (a shared one would merge two people).
    assert customer(PHONE_POOL_SIZE + 1).phone is None
    with pytest.raises(ValueError, match="start at 1"):
        customer(0)
