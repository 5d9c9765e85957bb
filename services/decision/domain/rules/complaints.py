"""Rule 2, service before sales.

While any complaint is open, no offers on any channel; an ``open_complaint``
suppression is active from the first opening to the last resolution. The
suppression is reconciled with the context on every event rather than only
on ``complaint_opened``/``complaint_resolved``, so a lost history, a merge of
an anonymous profile with an open case or a resolution that overtook its
opening still ends in the right state.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import cache

from libs.contract.common import Trigger
from libs.contract.suppression import SuppressionReason
from services.context.domain.model import Complaint, CustomerContext
from services.decision.domain.clock import format_moment
from services.decision.domain.explain import OPEN_COMPLAINT, Exclusion
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import ComplaintPolicy
from services.decision.domain.suppressions import Changes, activate, lift_key

KEY = "open_complaint"


def describe_open_complaints(
    context: CustomerContext, policy: ComplaintPolicy, now: datetime, zone: tzinfo
) -> str:
    """``"open complaint #123 since 10:02: offers suppressed"``, oldest case first."""
    cases = context.open_complaints
    # The oldest case: ``min`` keeps the first of equal times, as a stable sort would.
    case_id, first = min(cases.items(), key=_opened_at)
    what = _withheld(policy.withhold_kinds)
    detail = f"open complaint #{case_id}"
    if first.category:
        detail += f" ({first.category})"
    detail += f" since {format_moment(first.opened_at, now, zone)}"
    if len(cases) > 1:
        detail += f" and {len(cases) - 1} more"
    return f"{detail}: {what} suppressed" if what else detail


def _opened_at(item: tuple[str, Complaint]) -> datetime:
    return item[1].opened_at


@cache
def _withheld(kinds: tuple[str, ...]) -> str:
    """``"offers"``: rendered once per policy, not on every decision with a complaint open."""
    return " and ".join(f"{kind}s" for kind in kinds)


def complaint_exclusion(
    kind: str, context: CustomerContext, policy: ComplaintPolicy, detail: str | None
) -> Exclusion | None:
    """``detail`` is :func:`describe_open_complaints`, computed once per decision."""
    if not context.open_complaints or kind not in policy.withhold_kinds:
        return None
    return Exclusion(OPEN_COMPLAINT, detail or "open complaint")


def reconcile(
    context: CustomerContext,
    history: ContactHistory,
    policy: ComplaintPolicy,
    trigger: Trigger,
    now: datetime,
    zone: tzinfo,
) -> Changes:
    """Active while a complaint is open, lifted when the last one is resolved.

    Changes nothing unless :func:`reconcile_due`; the caller may ask that first.
    """
    active = history.suppression_for(KEY)
    if context.open_complaints and active is None and policy.withhold_kinds:
        return activate(
            history,
            key=KEY,
            reason=SuppressionReason.open_complaint,
            detail=describe_open_complaints(context, policy, now, zone),
            trigger=trigger,
            now=now,
            kinds=[str(kind) for kind in policy.withhold_kinds],
        )
    if not context.open_complaints and active is not None:
        return lift_key(
            history, KEY, detail="last open complaint resolved", trigger=trigger, now=now
        )
    return history, ()


def reconcile_due(
    context: CustomerContext, history: ContactHistory, policy: ComplaintPolicy
) -> bool:
    """Whether :func:`reconcile` would activate or lift: rarely, so the caller can skip
    building the trigger it quotes (a pydantic validation) on every other decision."""
    active = history.suppression_for(KEY)
    if context.open_complaints:
        return active is None and bool(policy.withhold_kinds)
    return active is not None
