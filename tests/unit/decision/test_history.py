"""Contact history: pure updates, bounds and a JSON round trip."""

from __future__ import annotations

from datetime import timedelta

from services.decision.domain.history import (
    ActiveSuppression,
    ContactHistory,
    SentAction,
    activate,
    lift,
    prune,
    record_sent,
    remember_event,
)
from tests.unit.decision.support import T0


def suppression(sid: str, until_days: int | None) -> ActiveSuppression:
    return ActiveSuppression(
        suppression_id=sid,
        key=f"k:{sid}",
        reason="other",
        detail="d",
        channels=("web",),
        effective_at=T0,
        until=None if until_days is None else T0 + timedelta(days=until_days),
    )


def test_updates_are_pure_and_round_trip_through_json() -> None:
    empty = ContactHistory.empty("c1")
    history = record_sent(
        empty,
        SentAction(
            decision_id="d1", action_id="a", kind="offer", category="x", channel="web", at=T0
        ),
    )
    history = activate(remember_event(history, "e1", 10), suppression("s1", None))
    assert empty.sent == ()
    assert empty.suppressions == {}
    assert ContactHistory.from_json(history.to_json()) == history
    assert history.suppression_for("k:s1") is not None
    assert lift(history, "s1").suppressions == {}
    assert lift(history, "nope") is history


def test_event_ids_are_bounded_and_remembered_once() -> None:
    history = ContactHistory.empty("c1")
    for index in range(5):
        history = remember_event(history, f"e{index}", 3)
    assert history.decided_event_ids == ("e2", "e3", "e4")
    assert remember_event(history, "e4", 3) is history


def test_prune_forgets_old_sends_and_expired_suppressions() -> None:
    history = ContactHistory(
        customer_id="c1",
        sent=tuple(
            SentAction(
                decision_id=f"d{d}",
                action_id="a",
                kind="offer",
                category="x",
                channel="web",
                at=T0 - timedelta(days=d),
            )
            for d in (3, 1, 0)  # oldest first, as the history keeps them
        ),
        suppressions={"s1": suppression("s1", 1), "s2": suppression("s2", None)},
    )
    pruned = prune(history, T0 + timedelta(days=2), timedelta(days=3))
    assert [s.decision_id for s in pruned.sent] == ["d1", "d0"]
    assert list(pruned.suppressions) == ["s2"]
    assert prune(pruned, T0 + timedelta(days=2), timedelta(days=3)) is pruned
