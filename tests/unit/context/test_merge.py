"""Moving a provisional history into a known customer, and expiring quiet provisional ones."""

from __future__ import annotations

from datetime import timedelta

from libs.context import (
    CustomerContext,
    adopt_provisional,
    is_expired,
    merge_contexts,
)
from libs.context.model import MAX_RECENT_PER_CHANNEL
from tests.unit.context.factories import T0, apply_all, event


def m(n: float) -> timedelta:
    return timedelta(minutes=n)


def anonymous(*events_at: float) -> CustomerContext:
    return apply_all(
        [event("page_view", at=m(n), page_type="product") for n in events_at],
        customer_id="prov:x",
        provisional=True,
    )


def test_merge_is_a_time_ordered_union_under_the_known_id() -> None:
    source = apply_all(
        [
            event("page_view", at=m(1)),
            event("cart_add", at=m(2), product_id="p1"),
            event("checkout_failed", at=m(3)),
            event("action_dismissed", at=m(4), decision_id="d1", action_id="A"),
            event("consent_updated", at=m(5), purpose="personalization", granted=True),
        ],
        customer_id="prov:x",
        provisional=True,
    )
    target = apply_all(
        [
            event("identify", at=m(6), identity={"customer_id": "C"}),
            event("action_dismissed", at=m(7), decision_id="d2", action_id="A"),
            event("cart_add", at=m(8), product_id="p2"),
        ]
    )

    merged = merge_contexts(target, source)

    assert (merged.customer_id, merged.provisional) == ("C", False)
    assert [i.type for i in merged.recent["web"]] == [
        "page_view",
        "cart_add",
        "checkout_failed",
        "action_dismissed",
        "consent_updated",
        "identify",
        "action_dismissed",
        "cart_add",
    ]
    assert merged.first_seen == T0 + m(1)
    assert merged.last_seen == T0 + m(8)
    assert merged.cart == ("p1", "p2")
    assert merged.signals["failed_checkout"] == (T0 + m(3),)
    assert merged.outcomes["A"].dismissed == 2
    assert merged.outcomes["A"].recent_dismissals == (T0 + m(4), T0 + m(7))
    assert merged.has_consent("personalization", "web")
    assert set(merged.processed_event_ids) == {
        *source.processed_event_ids,
        *target.processed_event_ids,
    }


def test_a_redelivered_merge_changes_nothing() -> None:
    target = apply_all([event("identify", at=m(10))])
    source = apply_all(
        [event("action_shown", at=m(1), decision_id="d", action_id="A")],
        customer_id="prov:x",
        provisional=True,
    )
    once = merge_contexts(target, source)
    assert merge_contexts(once, source) is once
    assert once.outcomes["A"].shown == 1


def test_a_new_history_under_the_same_provisional_id_merges_again() -> None:
    once = merge_contexts(apply_all([event("identify", at=m(10))]), anonymous(1))
    again = merge_contexts(once, anonymous(20))
    assert len(again.recent["web"]) == 3


def test_merged_rings_stay_bounded() -> None:
    target = apply_all([event("page_view", at=m(100 + n)) for n in range(MAX_RECENT_PER_CHANNEL)])
    merged = merge_contexts(target, anonymous(*range(MAX_RECENT_PER_CHANNEL)))
    assert len(merged.recent["web"]) == MAX_RECENT_PER_CHANNEL
    assert merged.recent["web"] == target.recent["web"]


def test_the_known_customer_wins_where_both_hold_a_value() -> None:
    target = apply_all([event("profile_updated", at=m(5), segment="family")])
    source = apply_all(
        [event("profile_updated", at=m(1), segment="student", language="nl")],
        customer_id="prov:x",
        provisional=True,
    )
    merged = merge_contexts(target, source)
    assert (merged.profile.segment, merged.profile.language) == ("family", "nl")


def test_consent_merges_by_time_not_by_side() -> None:
    target = apply_all([event("consent_updated", at=m(1), purpose="marketing", granted=True)])
    source = apply_all(
        [event("consent_updated", at=m(2), purpose="marketing", granted=False)],
        customer_id="prov:x",
        provisional=True,
    )
    assert not merge_contexts(target, source).has_consent("marketing", "web")
    assert not merge_contexts(source, target).has_consent("marketing", "web")


def test_a_case_resolved_on_one_side_is_not_reopened_by_the_other() -> None:
    source = apply_all(
        [event("complaint_opened", at=m(1), case_id="K")], customer_id="prov:x", provisional=True
    )
    target = apply_all([event("complaint_resolved", at=m(2), case_id="K")])
    assert not merge_contexts(target, source).has_open_complaint


def test_sessions_keep_the_latest_per_channel() -> None:
    target = apply_all([event("page_view", at=m(1), session_id="old")])
    source = apply_all(
        [event("page_view", at=m(5), session_id="new")], customer_id="prov:x", provisional=True
    )
    assert merge_contexts(target, source).sessions["web"].session_id == "new"


def test_only_quiet_provisional_contexts_expire() -> None:
    quiet = anonymous(0)
    assert is_expired(quiet, T0 + timedelta(days=31))
    assert not is_expired(quiet, T0 + timedelta(days=29))
    assert is_expired(quiet, T0 + timedelta(days=8), anonymous_ttl=timedelta(days=7))
    known = apply_all([event("page_view")])
    assert not is_expired(known, T0 + timedelta(days=3650))


def test_a_merge_reaching_a_customer_without_context_adopts_the_history() -> None:
    source = anonymous(1, 2)
    adopted = adopt_provisional(source, "C")
    assert (adopted.customer_id, adopted.provisional) == ("C", False)
    assert adopted.recent == source.recent
    assert merge_contexts(adopted, source) is adopted
