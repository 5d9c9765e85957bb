"""The set of suppressions in force that `suppressions.active` carries per customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.contract.suppression import SuppressionEvent
from services.decision.domain.in_force import decode_in_force, encode_in_force, in_force_after

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def suppression(
    sid: str, state: str = "active", reason: str = "open_complaint", until: datetime | None = None
) -> SuppressionEvent:
    return SuppressionEvent.model_validate(
        {
            "schema": "suppression/v1",
            "suppression_id": sid,
            "customer_id": "C-1",
            "state": state,
            "reason": reason,
            "detail": "why, for people",
            "trigger": {"event_id": f"evt-{sid}", "type": "complaint_opened", "channel": "phone"},
            "effective_at": T0.isoformat(),
            "until": None if until is None else until.isoformat(),
        }
    )


def ids(suppressions: tuple[SuppressionEvent, ...]) -> list[str]:
    return [s.suppression_id for s in suppressions]


def test_a_start_adds_and_its_lift_removes_only_it() -> None:
    consent = suppression("a", reason="consent_withdrawn")
    complaint = suppression("b")
    both = in_force_after((), [consent, complaint], T0)
    assert ids(both) == ["a", "b"]
    assert ids(in_force_after(both, [suppression("b", state="lifted")], T0)) == ["a"]


def test_a_suppression_past_its_until_is_no_longer_in_force() -> None:
    cap = suppression("cap", reason="frequency_cap", until=T0 + timedelta(hours=1))
    current = in_force_after((), [cap], T0)
    assert ids(current) == ["cap"]
    assert ids(in_force_after(current, [], T0 + timedelta(minutes=59))) == ["cap"]
    assert in_force_after(current, [], T0 + timedelta(hours=1)) == ()


def test_a_repeated_start_replaces_rather_than_duplicates() -> None:
    first = in_force_after((), [suppression("a")], T0)
    assert ids(in_force_after(first, [suppression("a")], T0)) == ["a"]


def test_nothing_in_force_is_a_tombstone_and_the_value_round_trips() -> None:
    assert encode_in_force("C-1", (), T0) is None
    assert decode_in_force(None) == ()
    current = in_force_after((), [suppression("a"), suppression("b")], T0)
    value = encode_in_force("C-1", current, T0)
    assert value is not None
    assert decode_in_force(value) == current
