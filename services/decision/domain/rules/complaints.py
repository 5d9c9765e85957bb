"""Rule 2, service before sales.

While any complaint is open, no offers on any channel; an ``open_complaint``
suppression is active from the first opening to the last resolution. The
suppression is reconciled with the context on every event rather than only
on ``complaint_opened``/``complaint_resolved``, so a lost history, a merge of
an anonymous profile with an open case or a resolution that overtook its
opening still ends in the right state.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from functools import cache, lru_cache
from typing import Any

from libs.context.model import Complaint, CustomerContext
from libs.contract.common import Trigger
from libs.contract.suppression import SuppressionReason
from services.decision.domain.clock import moment_texts, utc_text
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
    if len(cases) == 1:
        # The usual case, and ``min`` with a key would cost a Python call per case.
        [(case_id, first)] = cases.items()
    else:
        # The oldest case: ``min`` keeps the first of equal times, as a stable sort would.
        case_id, first = min(cases.items(), key=opened_at)
    day, same_day, other_day = _descriptions(
        case_id, first.category, first.opened_at, len(cases) - 1, policy.withhold_kinds, zone
    )
    return same_day if now.astimezone(zone).date() == day else other_day


def open_complaint_entries(context: CustomerContext) -> list[dict[str, Any]]:
    """The open cases as payloads quote them (the agent's situation, the briefing's
    fix-first list), oldest first."""
    cases = context.open_complaints
    if not cases:
        return []
    # Usually one case: nothing to sort, and no key function called for it.
    ordered = cases.items() if len(cases) == 1 else sorted(cases.items(), key=opened_at)
    return [
        {
            "case_id": case_id,
            "category": complaint.category,
            "severity": complaint.severity,
            "opened_at": utc_text(complaint.opened_at),
        }
        for case_id, complaint in ordered
    ]


def opened_at(item: tuple[str, Complaint]) -> datetime:
    """Sort key of ``open_complaints.items()``: oldest case first."""
    return item[1].opened_at


@lru_cache(maxsize=4096)
def _descriptions(
    case_id: str,
    category: str | None,
    opened_at: datetime,
    more: int,
    withhold_kinds: tuple[str, ...],
    zone: tzinfo,
) -> tuple[date, str, str]:
    """The opening's local day, and the description as read on that day and on any other.

    The same description is quoted on every decision while the case stays open
    (about a third of customers have one): rendering it, a conversion into the
    customer's zone and a handful of formatted strings, cost about 10,000
    instructions, the cache lookup a tenth of that. Only the day of ``now``, which
    changes with every decision, is left to the caller; everything here is fixed
    by the arguments, so an entry never goes stale.
    """
    day, same_day, other_day = moment_texts(opened_at, zone)
    head = f"open complaint #{case_id}"
    if category:
        head += f" ({category})"
    head += " since "
    tail = f" and {more} more" if more else ""
    what = _withheld(withhold_kinds)
    if what:
        tail += f": {what} suppressed"
    return day, f"{head}{same_day}{tail}", f"{head}{other_day}{tail}"


@cache
def _withheld(kinds: tuple[str, ...]) -> str:
    """``"offers"``: rendered once per policy."""
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
    # Most customers have no suppression at all: no search then.
    if context.open_complaints:
        return bool(policy.withhold_kinds) and (
            not history.suppressions or history.suppression_for(KEY) is None
        )
    return bool(history.suppressions) and history.suppression_for(KEY) is not None
