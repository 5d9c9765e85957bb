"""Arbitration: which of the candidate actions, if any, wins this decision.

Every candidate passes the rules in a fixed order; the first that rules it out
is recorded for the explanation. Rules that depend only on the kind of action
(consent on this channel, open complaints, frustration, caps) are evaluated
once per kind per decision, and per-action memories (last sends, purchases)
are indexed once, so a large catalogue costs little more than its eligibility
conditions. Survivors score ``propensity x value x context weight x lever``;
the highest wins, ties going to the smaller action id (candidates arrive
sorted by id), so the same inputs always give the same decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import NamedTuple

from services.decision.domain import explain
from services.decision.domain.catalogue import ActionDef, Catalogue, effective_cooldown
from services.decision.domain.conditions import Check
from services.decision.domain.explain import CandidateOutcome, Exclusion
from services.decision.domain.facts import DecisionFacts
from services.decision.domain.history import ActiveSuppression, ContactHistory, SentAction
from services.decision.domain.policies import Policies
from services.decision.domain.rules import (
    caps,
    complaints,
    consent,
    cooldown,
    fatigue,
    frustration,
    purchase,
    suppressed,
)
from services.decision.domain.templates import Binding, SlotValue, concrete_id, describe

# ``CandidateOutcome(...)`` runs a Python-level ``__new__``; building the tuple
# directly is the same object at a fraction of the cost, once per candidate.
_outcome = tuple.__new__
_pick = tuple.__new__  # the same for the one ``Pick`` per decision
_binding = tuple.__new__  # and for a template's winning ``Binding``
_MAX_ID = 128  # the contract's identifier length


class Pick(NamedTuple):
    """A named tuple, not a frozen dataclass: built on every decision, and cheaper."""

    winner: ActionDef | None
    score: float
    weight: float
    suitability: tuple[str, ...]
    eligible: int
    outcomes: tuple[CandidateOutcome, ...]
    binding: Binding | None = None
    """The winner's concrete product or category, when it is a template."""
    binding_reason: str | None = None
    """Which interest or profile fact chose the binding, in words."""


class _Gates(dict[str, Exclusion | None]):
    """The decision-wide part of the rules, computed once and on first need.

    As a mapping, kind -> what rules the kind out (None: nothing), filled on the
    first ask per kind by ``__missing__``: ``gates[kind]`` is then a plain dict
    lookup for every further candidate of that kind.
    """

    # Slots: one instance per decision, and its attributes are read per candidate.
    __slots__ = (
        "_last_sent",
        "_outcomes",
        "_purchases",
        "_suppressions",
        "complaint_detail",
        "facts",
        "history",
        "policies",
        "zone",
    )
    # Set by ``arbitrate`` right after creation (no ``__init__``: one per decision).
    _last_sent: dict[str, SentAction] | None
    _outcomes: Mapping[str, object]
    _purchases: purchase.RecentPurchases | None
    _suppressions: list[ActiveSuppression] | None  # those in force, on first need
    complaint_detail: str | None
    facts: DecisionFacts
    history: ContactHistory
    policies: Policies
    zone: tzinfo

    def __missing__(self, kind: str) -> Exclusion | None:
        """Kind-wide rules; asked through ``gates[kind]``, which keeps the answer.

        Only for kinds some rule may rule out: the others are in the mapping from
        the start (``Policies.kinds_free_of_kind_rules``). Of the four rules, only
        those that apply to the kind (``Policies.kind_rules``) and have something to
        check are called: the complaint rule without an open complaint, or the
        frustration rule without a finding, could rule nothing out.
        """
        facts, policies = self.facts, self.policies
        purpose, withheld, answers, counted = policies.kind_rules[kind]
        context = facts.context
        # ``consent.consent_exclusion`` with the purpose already known.
        excluded: Exclusion | None = None
        if purpose is not None and not context.has_consent(purpose, facts.channel):
            excluded = consent.no_consent(purpose, facts.channel, kind)
        elif withheld and context.open_complaints:
            excluded = complaints.complaint_exclusion(
                kind, context, policies.complaints, self.complaint_detail
            )
        elif facts.findings and not answers:
            excluded = frustration.frustration_exclusion(kind, facts.findings, policies.frustration)
        elif counted:
            excluded = caps.cap_exclusion(
                kind, facts.channel, self.history, policies.caps, facts.now, self.zone
            )
        self[kind] = excluded
        return excluded

    def action(
        self,
        action: ActionDef,
        action_id: str,
        kind: str,
        category: str,
        products: tuple[str, ...],
    ) -> Exclusion | None:
        """Per-action rules; each is skipped outright when there is nothing to check.

        ``action_id``, ``kind``, ``category`` and ``products``: the action's own (from
        ``ActionDef.candidate``, read once by the caller), or for a template the
        concrete binding's, so every rule applies to what would actually be offered.
        """
        facts = self.facts
        context = facts.context
        if context.purchases and action.is_offer:
            recent = self._purchases
            if recent is None:
                recent = self._purchases = purchase.recent_purchases(
                    context, self.policies.recent_purchase, facts.now
                )
            excluded = purchase.purchase_exclusion(category, products, recent)
            if excluded is not None:
                return excluded
        if action_id in self._outcomes:
            excluded = fatigue.fatigue_exclusion(
                action_id, context, self.policies.fatigue, facts.now
            )
            if excluded is not None:
                return excluded
        in_force = self._suppressions
        if in_force is None:
            now = facts.now
            in_force = self._suppressions = [
                item for item in self.history.suppressions.values() if item.in_force(now)
            ]
        if in_force:
            excluded = suppressed.suppression_exclusion(
                action_id, kind, category, facts.channel, in_force
            )
            if excluded is not None:
                return excluded
        last_sent = self._last_sent
        if last_sent is None:
            sends = self.history.sent
            if not sends:
                return None
            last_sent = self._last_sent = {sent.action_id: sent for sent in sends}
        last = last_sent.get(action_id)
        if last is not None:
            return cooldown.cooldown_exclusion(
                last, effective_cooldown(action, self.policies), facts.now
            )
        return None


def arbitrate(
    candidates: Sequence[ActionDef],
    facts: DecisionFacts,
    history: ContactHistory,
    catalogue: Catalogue,
    policies: Policies,
    zone: tzinfo,
    complaint_detail: str | None = None,
) -> Pick:
    """``complaint_detail``: the open complaints described once by the caller, if any."""
    # dict's own constructor, then the slots: no Python-level ``__init__`` per decision.
    gates = _Gates(policies.kinds_free_of_kind_rules)
    gates.facts = facts
    gates.complaint_detail = complaint_detail
    gates.history = history
    gates.policies = policies
    gates.zone = zone
    gates._last_sent = None
    gates._purchases = None
    gates._suppressions = None
    context = facts.context
    gates._outcomes = outcomes_of = context.outcomes
    # Often no per-action rule has anything to check: say so once, not per candidate.
    idle = not (context.purchases or outcomes_of or history.suppressions or history.sent)
    min_score = policies.arbitration.min_score
    best: ActionDef | None = None
    best_score = 0.0
    best_weight = 1.0
    best_reasons: tuple[str, ...] = ()
    best_weights: tuple[tuple[Check, float, str], ...] = ()
    eligible = 0
    outcomes: list[CandidateOutcome] = []
    append = outcomes.append
    # The loop body runs once per candidate per decision: what it reads of an action
    # is one tuple (``ActionDef.candidate``), conditions are compiled closures over
    # memoised facts, and the suitability reasons are rendered for the winner only,
    # after the loop.
    best_binding: Binding | None = None
    slot_values: tuple[SlotValue, ...] = ()
    categories = catalogue.categories
    for action in candidates:
        action_id, kind, check, not_eligible, weights, base, lever, template = action.candidate
        excluded = gates[kind]
        if excluded is None:
            if check is not None and not check(facts):
                append(not_eligible)  # type: ignore[arg-type]  # set whenever check is
                continue
            if template is not None:
                # What the template's slot holds, strongest first (bound below).
                slot_values = facts.slot_values(template, categories)
                if not slot_values:
                    append(action.template_empty)  # type: ignore[arg-type]  # set for templates
                    continue
            elif not idle:
                excluded = gates.action(action, action_id, kind, action.category, action.products)
        if excluded is not None:
            append(_outcome(CandidateOutcome, (action_id, None, excluded)))
            continue
        weight = 1.0
        for check, factor, _ in weights:
            if check(facts):
                weight *= factor
        score = base * weight * lever
        if score <= min_score:
            append(_low_score(action_id, score, min_score))
            continue
        if template is None:
            eligible += 1
            append(_outcome(CandidateOutcome, (action_id, score, None)))
            if best is None or score > best_score:
                best, best_score, best_weight, best_weights = action, score, weight, weights
                best_binding = None
            continue
        # A template binds to its slot's values strongest first, and every binding
        # scores the same: the first one the per-action rules leave (not bought, not
        # resting, not dismissed, not cooling down) is the template's candidate, and
        # the weaker ones after it need no look.
        for value, category, product, evidence in slot_values:
            concrete = f"{action_id}:{value}"
            if len(concrete) > _MAX_ID:  # ``concrete_id``, spelt out for the usual case
                concrete = concrete_id(action_id, value)
            if category is None:  # a cart line that named no category
                category = action.category
            if not idle:
                excluded = gates.action(
                    action,
                    concrete,
                    kind,
                    category,
                    action.products if product is None else (*action.products, product),
                )
                if excluded is not None:
                    append(_outcome(CandidateOutcome, (concrete, None, excluded)))
                    continue
            eligible += 1
            append(_outcome(CandidateOutcome, (concrete, score, None)))
            if best is None or score > best_score:
                best, best_score, best_weight, best_weights = action, score, weight, weights
                best_binding = _binding(Binding, (concrete, category, product, value, evidence))
            break
    # Most winners have no suitability rules: no reasons to render then.
    if best is not None and best_weights:
        best_reasons = context_weight(best, facts)[1]
    binding_reason = None
    if best_binding is not None:
        assert best is not None
        assert best.template is not None
        binding_reason = describe(best.template, best_binding, facts, catalogue.categories, zone)
    return _pick(
        Pick,
        (
            best,
            best_score,
            best_weight,
            best_reasons,
            eligible,
            tuple(outcomes),
            best_binding,
            binding_reason,
        ),
    )


def _low_score(action_id: str, score: float, min_score: float) -> CandidateOutcome:
    low = Exclusion(explain.LOW_SCORE, f"score {score:.4g} is not above {min_score:g}")
    return CandidateOutcome(action_id, score=score, excluded=low)


def context_weight(action: ActionDef, facts: DecisionFacts) -> tuple[float, tuple[str, ...]]:
    """The product of the weights of the suitability rules that hold, and their reasons."""
    weight = 1.0
    reasons: list[str] = []
    for check, factor, reason in action.weights:
        if check(facts):
            weight *= factor
            reasons.append(reason)
    return weight, tuple(reasons)
