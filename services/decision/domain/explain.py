"""Explanations: why an action won, why the others did not, in words people read.

Codes are stable (dashboards and tests key on them); details are sentences for
agents, store staff and auditors. docs/decisioning.md lists every code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from services.decision.domain.frozen import new, slot_setters

# Why a candidate was left out (``CandidateOutcome.excluded.code``).
NOT_ELIGIBLE: Final = "not_eligible"
NO_CONSENT: Final = "no_consent"
OPEN_COMPLAINT: Final = "open_complaint"
FRUSTRATION: Final = "frustration"
PURCHASED_PRODUCT: Final = "purchased_product"
RECENT_PURCHASE: Final = "recent_purchase"
DISMISSAL_FATIGUE: Final = "dismissal_fatigue"
SUPPRESSED: Final = "suppressed"
FREQUENCY_CAP: Final = "frequency_cap"
COOLDOWN: Final = "cooldown"
LOW_SCORE: Final = "low_score"

# Reason codes on an emitted action (``ActionEvent.reasons``).
REASON_ACTION: Final = "action"  # the catalogue's own why
REASON_FRUSTRATION: Final = "frustration"
REASON_OPEN_COMPLAINT: Final = "open_complaint"
REASON_SUITABILITY: Final = "suitability"
REASON_CONSENT: Final = "consent"
REASON_SCORE: Final = "score"
REASON_INTEREST: Final = "interest"  # a template bound to the cart, an interest or a purchase
REASON_PROFILE: Final = "profile"  # a template bound to a profile fact (life stage)

# How a decision ended (``Explanation.outcome``).
OUTCOME_ACTION: Final = "action"
OUTCOME_NO_ACTION: Final = "no_action"
OUTCOME_DUPLICATE: Final = "duplicate"


# Named tuples rather than frozen dataclasses: one is built per candidate per
# decision, and a tuple is immutable and several times cheaper to construct.
class Exclusion(NamedTuple):
    code: str
    detail: str


class CandidateOutcome(NamedTuple):
    action_id: str
    score: float | None = None
    excluded: Exclusion | None = None

    def to_dict(self) -> dict[str, Any]:
        excluded = self.excluded
        return {
            "action_id": self.action_id,
            "score": self.score,
            "excluded": None
            if excluded is None
            else {"code": excluded.code, "detail": excluded.detail},
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """The whole story of one decision, for logs, the gateway and audits."""

    decision_id: str
    policy_version: str
    outcome: str
    event_id: str | None = None
    chosen: str | None = None
    candidates: tuple[CandidateOutcome, ...] = ()
    notes: tuple[str, ...] = ()
    subject: dict[str, Any] | None = None
    """A template's winner: what it is about (``payload.subject``: template, slot,
    category, product). None for a plain action or no action."""

    def to_dict(self) -> dict[str, Any]:
        """``subject`` only when there is one: records of plain decisions keep their shape."""
        record: dict[str, Any] = {
            "decision_id": self.decision_id,
            "policy_version": self.policy_version,
            "outcome": self.outcome,
            "event_id": self.event_id,
            "chosen": self.chosen,
            "candidates": [item.to_dict() for item in self.candidates],
            "notes": list(self.notes),
        }
        if self.subject is not None:
            record["subject"] = self.subject
        return record


_SET_EXPLANATION = slot_setters(Explanation)


def explanation(
    decision_id: str,
    policy_version: str,
    outcome: str,
    event_id: str | None,
    chosen: str | None,
    candidates: tuple[CandidateOutcome, ...],
    notes: tuple[str, ...],
    subject: dict[str, Any] | None = None,
) -> Explanation:
    """``Explanation(...)`` through the slots (see ``frozen.py``): one per decision."""
    built: Explanation = new(Explanation)
    (
        set_id,
        set_version,
        set_outcome,
        set_event,
        set_chosen,
        set_candidates,
        set_notes,
        set_subject,
    ) = _SET_EXPLANATION
    set_id(built, decision_id)
    set_version(built, policy_version)
    set_outcome(built, outcome)
    set_event(built, event_id)
    set_chosen(built, chosen)
    set_candidates(built, candidates)
    set_notes(built, notes)
    set_subject(built, subject)
    return built
