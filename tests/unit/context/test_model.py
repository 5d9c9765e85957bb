"""The context record: serialisation, idempotence, bounds of the shared parts, queries."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta, timezone

import orjson
import pytest

from libs.context import CustomerContext, apply_event
from libs.context.model import (
    MAX_PROCESSED_EVENT_IDS,
    MAX_RECENT_PER_CHANNEL,
    SIGNAL_WINDOWS,
    evolve,
)
from tests.unit.context.factories import T0, apply_all, event


def m(n: float) -> timedelta:
    return timedelta(minutes=n)


def test_round_trip_through_bytes_is_exact_and_compact() -> None:
    ctx = apply_all(
        [
            event("page_view", at=m(1), session_id="s", page_type="help"),
            event("consent_updated", at=m(2), purpose="marketing", granted=True),
            event("purchase", at=m(3), order_id="o", items=[{"product_id": "p", "category": "c"}]),
            event("complaint_opened", at=m(4), case_id="K"),
            event("action_dismissed", at=m(5), decision_id="d", action_id="A"),
            event("profile_updated", at=m(6), segment="s"),
        ]
    )
    data = ctx.to_bytes()
    assert CustomerContext.from_bytes(data) == ctx
    assert b" " not in data.replace(b'" ', b"")  # no whitespace between tokens
    assert b'"2025-05-01T12:01:00Z"' in data


def test_round_trip_through_a_json_dict_for_envelopes() -> None:
    ctx = apply_all(
        [
            event("consent_updated", at=m(1), purpose="marketing", channel="sms", granted=True),
            event("checkout_failed", at=m(2)),
        ]
    )
    data = ctx.to_json_dict()
    assert data["signals"] == {"failed_checkout": ["2025-05-01T12:02:00Z"]}
    assert CustomerContext.from_json_dict(data) == ctx


def test_timestamps_are_stored_in_utc_whole_seconds() -> None:
    local = T0.astimezone(timezone(timedelta(hours=2))) + timedelta(microseconds=123456)
    ctx = apply_all([event("page_view", at=local)])
    assert ctx.first_seen == T0
    assert ctx.first_seen.utcoffset() == timedelta(0)


def test_a_record_written_before_a_field_existed_still_loads() -> None:
    ctx = apply_all([event("page_view")])
    raw = orjson.loads(ctx.to_bytes())
    for newer in ("resolved_complaints", "merged_sources", "cart", "outcomes"):
        del raw[newer]
    assert CustomerContext.from_bytes(orjson.dumps(raw)) == ctx


def test_applying_an_event_twice_is_a_no_op() -> None:
    first = event("action_shown", decision_id="d", action_id="A")
    ctx = apply_all([first])
    assert apply_event(ctx, first, "C", False, T0) is ctx


def test_idempotence_survives_a_round_trip_through_storage() -> None:
    first = event("cart_add", product_id="p")
    stored = CustomerContext.from_bytes(apply_all([first]).to_bytes())
    assert apply_event(stored, first, "C", False, T0) is stored


def test_a_context_of_another_customer_is_a_wiring_error() -> None:
    ctx = apply_all([event("page_view")])
    with pytest.raises(ValueError, match="context of 'C' given for 'D'"):
        apply_event(ctx, event("page_view"), "D", False, T0)


def test_recent_interactions_are_bounded_per_channel_and_ordered_by_time() -> None:
    events = [event("page_view", at=m(n)) for n in range(MAX_RECENT_PER_CHANNEL + 5)]
    late = event("page_view", at=m(10.5), event_id="late")
    ctx = apply_all([*events, late])
    times = [i.at for i in ctx.recent["web"]]
    assert len(times) == MAX_RECENT_PER_CHANNEL
    assert times == sorted(times)
    assert "late" in [i.event_id for i in ctx.recent["web"]]
    assert ctx.last_seen == T0 + m(MAX_RECENT_PER_CHANNEL + 4)


def test_processed_ids_are_bounded() -> None:
    events = [event("page_view", at=m(n)) for n in range(MAX_PROCESSED_EVENT_IDS + 10)]
    assert len(apply_all(events).processed_event_ids) == MAX_PROCESSED_EVENT_IDS


def test_first_and_last_seen_and_last_channel_follow_occurrence_not_arrival() -> None:
    ctx = apply_all(
        [
            event("page_view", at=m(10)),
            event("call_started", on="phone", at=m(20)),
            event("store_visit", on="store", at=m(5), store_id="S"),  # late
        ]
    )
    assert (ctx.first_seen, ctx.last_seen, ctx.last_channel) == (T0 + m(5), T0 + m(20), "phone")


def test_a_known_context_stays_known() -> None:
    ctx = apply_all([event("page_view")], provisional=False)
    assert apply_event(ctx, event("page_view"), "C", True, T0).provisional is False
    prov = apply_all([event("page_view")], provisional=True)
    assert apply_event(prov, event("identify"), "C", False, T0).provisional is False


@pytest.mark.parametrize(("signal", "window"), sorted(SIGNAL_WINDOWS.items()))
def test_signals_are_pruned_to_their_window_as_of_now(signal: str, window: timedelta) -> None:
    ctx = replace(apply_all([event("page_view")]), signals={signal: (T0, T0 + m(1))})
    later = T0 + window + m(0.5)
    after = apply_event(ctx, event("page_view", at=later), "C", False, later)
    assert after.signals == {signal: (T0 + m(1),)}
    gone = apply_event(after, event("page_view", at=later), "C", False, later + m(5))
    assert gone.signals == {}


def test_a_late_event_older_than_its_window_is_history_but_not_a_signal() -> None:
    now = T0 + timedelta(days=10)
    old_failure = event("checkout_failed", at=T0, reason="card")
    ctx = apply_all([event("page_view", at=now), old_failure], now=now)
    assert ctx.signals == {}
    assert [i.type for i in ctx.recent["web"]] == ["checkout_failed", "page_view"]


def test_signal_queries() -> None:
    ctx = apply_all([event("checkout_failed", at=m(n)) for n in (0, 10, 20)], now=T0 + m(20))
    now = T0 + m(25)
    assert ctx.signal_count("failed_checkout", m(30), now) == 3
    assert ctx.signal_count("failed_checkout", m(15), now) == 1
    assert ctx.signal_count("empty_search", m(15), now) == 0
    assert ctx.last_signal_at("failed_checkout") == T0 + m(20)
    assert ctx.last_signal_at("ivr_loop") is None


def test_purchase_queries() -> None:
    ctx = apply_all(
        [
            event(
                "purchase", at=m(1), order_id="o1", items=[{"product_id": "p1", "category": "a"}]
            ),
            event(
                "purchase", at=m(2), order_id="o2", items=[{"product_id": "p2", "category": "b"}]
            ),
        ]
    )
    assert ctx.last_purchase_at() == T0 + m(2)
    assert ctx.last_purchase_at(category="a") == T0 + m(1)
    assert ctx.last_purchase_at(product_id="p2") == T0 + m(2)
    assert ctx.last_purchase_at(product_id="p1", category="b") is None


def test_evolve_is_replace_without_the_cost() -> None:
    ctx = apply_all([event("page_view")])
    assert evolve(ctx, last_channel="phone") == replace(ctx, last_channel="phone")
    assert ctx.last_channel == "web"
    with pytest.raises(TypeError, match="no field"):
        evolve(ctx, **{"no_such_field": 1})  # type: ignore[arg-type]
