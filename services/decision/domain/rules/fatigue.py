"""Rule 4b, dismissal fatigue: an action dismissed twice rests for 30 days.

"Twice" is ``dismissals`` within ``within`` of each other; the rest runs from
the dismissal that completed the count. The context service keeps the recent
dismissal times per action; the ``action_dismissed`` that completes the count
emits a ``dismissal_fatigue`` suppression scoped to that action id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from libs.context.model import CustomerContext
from libs.contract.common import Trigger
from libs.contract.interaction import InteractionEvent
from libs.contract.suppression import SuppressionReason
from services.decision.domain.clock import format_day
from services.decision.domain.explain import DISMISSAL_FATIGUE, Exclusion
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import FatiguePolicy
from services.decision.domain.suppressions import Changes, activate


def fatigued_until(dismissals: Sequence[datetime], policy: FatiguePolicy) -> datetime | None:
    """End of the rest earned by the latest qualifying run of dismissals (times ascending)."""
    need = policy.dismissals
    for end in range(len(dismissals) - 1, need - 2, -1):
        if dismissals[end] - dismissals[end - need + 1] <= policy.within:
            return dismissals[end] + policy.rest
    return None


def _dismissals(context: CustomerContext, action_id: str) -> Sequence[datetime]:
    outcome = context.outcomes.get(action_id)
    return () if outcome is None else outcome.recent_dismissals


def fatigue_exclusion(
    action_id: str, context: CustomerContext, policy: FatiguePolicy, now: datetime
) -> Exclusion | None:
    until = fatigued_until(_dismissals(context, action_id), policy)
    if until is None or now >= until:
        return None
    return Exclusion(
        DISMISSAL_FATIGUE,
        f"dismissed {policy.dismissals} times: resting until {until.date().isoformat()}",
    )


def on_dismissal(
    event: InteractionEvent,
    context: CustomerContext,
    history: ContactHistory,
    policy: FatiguePolicy,
    trigger: Trigger,
    now: datetime,
    zone: tzinfo,
) -> Changes:
    action_id = event.attributes.get("action_id")
    if not isinstance(action_id, str) or not action_id:
        return history, ()
    until = fatigued_until(_dismissals(context, action_id), policy)
    if until is None or until <= now:
        return history, ()
    return activate(
        history,
        key=f"dismissal_fatigue:{action_id}:{until.isoformat()}",
        reason=SuppressionReason.dismissal_fatigue,
        detail=(
            f"{action_id} dismissed {policy.dismissals} times:"
            f" not shown again until {format_day(until, zone)}"
        ),
        trigger=trigger,
        now=now,
        until=until,
        action_ids=[action_id],
    )
