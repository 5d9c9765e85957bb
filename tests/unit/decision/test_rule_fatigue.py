"""Rule 4b: dismissed twice, an action rests for 30 days."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from libs.contract.interaction import InteractionEvent
from services.decision.domain.policies import FatiguePolicy
from services.decision.domain.rules.fatigue import fatigued_until
from tests.unit.decision.support import T0, action, catalogue_of, consent, context, event, run

POLICY = FatiguePolicy()


def days(*values: float) -> tuple[datetime, ...]:
    return tuple(T0 + timedelta(days=value) for value in values)


@pytest.mark.parametrize(
    ("dismissals", "until"),
    [
        ((), None),
        (days(0), None),
        (days(0, 1), 31),
        (days(0, 30), 60),
        (days(0, 31), None),  # too far apart to count as "twice"
        (days(0, 31, 40), 70),
        (days(0, 1, 50), 31),  # the last run is the one that counts; already over by day 50
    ],
)
def test_fatigued_until(dismissals: tuple[datetime, ...], until: int | None) -> None:
    expected = None if until is None else T0 + timedelta(days=until)
    assert fatigued_until(dismissals, POLICY) == expected


CATALOGUE, POLICIES = catalogue_of(
    action("offer.nag", value=100, cooldown="1s"), action("offer.other", value=1, cooldown="1s")
)


def dismiss(at: datetime, action_id: str = "offer.nag") -> InteractionEvent:
    return event("action_dismissed", "web", at, decision_id="d", action_id=action_id)


def test_dismissed_twice_rests_for_thirty_days_with_a_suppression() -> None:
    ctx = context(consent=consent())
    events = [
        dismiss(T0),
        event("page_view", "web", T0 + timedelta(hours=1)),
        dismiss(T0 + timedelta(days=2)),
        event("page_view", "web", T0 + timedelta(days=3)),
        event("page_view", "web", T0 + timedelta(days=31)),
        event("page_view", "web", T0 + timedelta(days=32, hours=1)),
    ]
    results = [r for _, r in run(events, CATALOGUE, POLICIES, ctx=ctx)]
    assert results[0].suppressions == []
    assert [a.action.id for a in results[1].actions] == ["offer.nag"]
    [rest] = results[2].suppressions
    assert rest.reason.value == "dismissal_fatigue"
    assert [a for a in rest.scope.action_ids] == ["offer.nag"]
    assert rest.until == T0 + timedelta(days=32)
    assert "dismissed 2 times" in rest.detail
    assert [a.action.id for a in results[3].actions] == ["offer.other"]
    assert [a.action.id for a in results[4].actions] == ["offer.other"]
    assert [a.action.id for a in results[5].actions] == ["offer.nag"]
