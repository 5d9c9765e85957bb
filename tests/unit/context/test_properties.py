"""Properties over arbitrary event sequences: bounded, idempotent, never raising."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.context import CustomerContext, apply_event, merge_contexts
from libs.context.model import (
    CONSENT_PURPOSES,
    CONTACT_CHANNELS,
    MAX_CART_ITEMS,
    MAX_INTEREST_CATEGORIES,
    MAX_INTEREST_PRODUCTS,
    MAX_IVR_MENUS_PER_CALL,
    MAX_MERGED_SOURCES,
    MAX_OPEN_COMPLAINTS,
    MAX_PROCESSED_EVENT_IDS,
    MAX_PURCHASES,
    MAX_RECENT_DISMISSALS,
    MAX_RECENT_PER_CHANNEL,
    MAX_RESOLVED_COMPLAINTS,
    MAX_SIGNAL_TIMESTAMPS,
    MAX_TRACKED_ACTIONS,
    SIGNAL_WINDOWS,
)
from libs.contract.interaction import InteractionEvent
from tests.unit.context.factories import T0, event
from tests.unit.context.strategies import events, timelines

PROPERTY = settings(max_examples=75, deadline=None)
FUZZ = settings(max_examples=50, deadline=None)


def run(
    timeline: list[tuple[InteractionEvent, datetime]], customer_id: str = "C"
) -> CustomerContext:
    ctx: CustomerContext | None = None
    for item, now in timeline:
        ctx = apply_event(ctx, item, customer_id, customer_id.startswith("prov:"), now)
    assert ctx is not None
    return ctx


def assert_within_bounds(ctx: CustomerContext, now: datetime | None = None) -> None:
    for ring in ctx.recent.values():
        assert 0 < len(ring) <= MAX_RECENT_PER_CHANNEL
        assert [i.at for i in ring] == sorted(i.at for i in ring)
    for session in ctx.sessions.values():
        assert session.started_at <= session.last_at
        assert len(session.ivr_menus) <= MAX_IVR_MENUS_PER_CALL
    assert len(ctx.open_complaints) <= MAX_OPEN_COMPLAINTS
    assert len(ctx.resolved_complaints) <= MAX_RESOLVED_COMPLAINTS
    assert len(ctx.purchases) <= MAX_PURCHASES
    assert [p.at for p in ctx.purchases] == sorted(p.at for p in ctx.purchases)
    for signal, times in ctx.signals.items():
        assert signal in SIGNAL_WINDOWS
        assert 0 < len(times) <= MAX_SIGNAL_TIMESTAMPS
        assert list(times) == sorted(times)
        if now is not None:
            assert times[0] >= now - SIGNAL_WINDOWS[signal]
    assert len(ctx.outcomes) <= MAX_TRACKED_ACTIONS
    for outcome in ctx.outcomes.values():
        assert len(outcome.recent_dismissals) <= MAX_RECENT_DISMISSALS
    assert len(ctx.cart) == len(set(ctx.cart)) <= MAX_CART_ITEMS
    assert set(ctx.cart_lines) <= set(ctx.cart)
    assert len(ctx.interests) <= MAX_INTEREST_CATEGORIES
    assert all(interest.score > 0 for interest in ctx.interests.values())
    interesting = [p.product_id for p in ctx.products_of_interest]
    assert len(interesting) == len(set(interesting)) <= MAX_INTEREST_PRODUCTS
    assert len(ctx.processed_event_ids) <= MAX_PROCESSED_EVENT_IDS
    assert len(ctx.merged_sources) <= MAX_MERGED_SOURCES
    assert ctx.first_seen <= ctx.last_seen
    assert set(ctx.consent) <= CONSENT_PURPOSES
    for consent in ctx.consent.values():
        assert set(consent.channels) <= CONTACT_CHANNELS


@PROPERTY
@given(timelines(T0))
def test_any_sequence_stays_within_every_bound_and_round_trips(timeline) -> None:
    ctx: CustomerContext | None = None
    for item, now in timeline:
        ctx = apply_event(ctx, item, "C", False, now)
        assert_within_bounds(ctx, now)
    assert ctx is not None
    assert CustomerContext.from_bytes(ctx.to_bytes()) == ctx


@FUZZ
@given(timelines(T0, max_size=40, junk=True))
def test_reducers_never_raise_whatever_the_attributes(timeline) -> None:
    ctx = run(timeline)
    assert_within_bounds(ctx, timeline[-1][1])
    assert CustomerContext.from_bytes(ctx.to_bytes()) == ctx


@PROPERTY
@given(timelines(T0, max_size=30), st.data())
def test_applying_the_same_event_twice_equals_applying_it_once(timeline, data) -> None:
    ctx = run(timeline)
    now = timeline[-1][1]
    again = data.draw(events(now))
    once = apply_event(ctx, again, "C", False, now)
    assert apply_event(once, again, "C", False, now) == once


@PROPERTY
@given(timelines(T0, max_size=20))
def test_a_redelivered_sequence_changes_nothing(timeline) -> None:
    ctx = run(timeline)
    replayed = ctx
    for item, now in timeline[-5:]:
        replayed = apply_event(replayed, item, "C", False, now)
    assert replayed == ctx


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(CONSENT_PURPOSES)),
            st.none() | st.sampled_from(sorted(CONTACT_CHANNELS)),
            st.booleans(),
            st.integers(min_value=0, max_value=5),
        ),
        min_size=1,
        max_size=8,
    ),
    st.randoms(use_true_random=False),
)
def test_consent_does_not_depend_on_arrival_order(statements, random) -> None:
    consent_events = [
        event(
            "consent_updated",
            at=timedelta(minutes=minute),
            purpose=purpose,
            granted=granted,
            **({"channel": channel} if channel else {}),
        )
        for purpose, channel, granted, minute in statements
    ]
    shuffled = list(consent_events)
    random.shuffle(shuffled)
    now = T0 + timedelta(hours=1)
    first = run([(e, now) for e in consent_events])
    second = run([(e, now) for e in shuffled])
    answers = [(p, c) for p in sorted(CONSENT_PURPOSES) for c in sorted(CONTACT_CHANNELS)]
    assert [first.has_consent(p, c) for p, c in answers] == [
        second.has_consent(p, c) for p, c in answers
    ]


@FUZZ
@given(timelines(T0, max_size=30), timelines(T0, max_size=30))
def test_merges_stay_within_bounds_and_are_idempotent(known_timeline, anonymous_timeline) -> None:
    target = run(known_timeline, "C")
    source = run(anonymous_timeline, "prov:x")
    merged = merge_contexts(target, source)
    assert_within_bounds(merged)
    assert merged.customer_id == "C"
    assert merged.provisional is False
    assert merge_contexts(merged, source) is merged
    assert CustomerContext.from_bytes(merged.to_bytes()) == merged
