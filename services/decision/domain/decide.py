"""One event in, one decision out: the pure core of the decision service.

``decide`` runs the suppression rules the event calls for, then arbitrates
among the catalogue actions that answer the event on its channel, and returns
at most one action, the suppressions to publish and the updated contact
history. ``next_best_action`` answers a synchronous question ("what now for
this customer on this channel?") through the same arbitration, changing nothing.

Arbitration itself lives in ``arbitration.py``; this module runs the
suppression rules, builds the action event with its reasons, and keeps the
contact history in step so caps hold exactly even within one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import cache, lru_cache
from typing import Any

from libs.context.model import CustomerContext
from libs.contract.action import ActionEvent, ActionSpec, Reason
from libs.contract.common import Channel, Trigger
from libs.contract.interaction import InteractionEvent
from libs.contract.suppression import SuppressionEvent
from services.decision.domain import explain, templates
from services.decision.domain.arbitration import Pick, arbitrate
from services.decision.domain.briefing import build_briefing
from services.decision.domain.catalogue import ActionDef, Catalogue, effective_ttl
from services.decision.domain.clock import customer_zone
from services.decision.domain.explain import Explanation
from services.decision.domain.facts import DecisionFacts
from services.decision.domain.frozen import new, slot_setters
from services.decision.domain.history import (
    ContactHistory,
    prune,
    record_decision,
    sent_action,
)
from services.decision.domain.policies import Policies
from services.decision.domain.rules import caps, complaints, consent, fatigue, frustration, purchase
from services.decision.domain.rules.idempotence import decision_id_for, query_decision_id

QUERY_TRIGGER_TYPE = "query"
"""``trigger.type`` of an action answered to a synchronous query rather than an event."""
_MIN_HISTORY = timedelta(days=2)  # a calendar day in any timezone, and then some
# The event types whose rules may emit a suppression (``_suppression_rules``).
_SUPPRESSION_EVENT_TYPES = frozenset({"consent_updated", "purchase", "action_dismissed"})


@dataclass(frozen=True, slots=True)
class DecisionResult:
    actions: list[ActionEvent]
    suppressions: list[SuppressionEvent]
    history: ContactHistory
    explanation: Explanation


_SET_RESULT = slot_setters(DecisionResult)


def _result(
    actions: list[ActionEvent],
    suppressions: list[SuppressionEvent],
    history: ContactHistory,
    explanation: Explanation,
) -> DecisionResult:
    """``DecisionResult(...)`` through the slots (see ``frozen.py``): one per decision."""
    result: DecisionResult = new(DecisionResult)
    set_actions, set_suppressions, set_history, set_explanation = _SET_RESULT
    set_actions(result, actions)
    set_suppressions(result, suppressions)
    set_history(result, history)
    set_explanation(result, explanation)
    return result


@dataclass(frozen=True, slots=True)
class NextBestAction:
    action: ActionEvent | None
    explanation: Explanation
    briefing: dict[str, Any] | None = None
    """The customer briefing for the person asking (``briefing.py``)."""


def decide(
    event: InteractionEvent,
    context: CustomerContext,
    history: ContactHistory,
    catalogue: Catalogue,
    policies: Policies,
    now: datetime,
) -> DecisionResult:
    """Decide for ``event`` given the context it produced; pure and deterministic.

    ``history`` is the customer's contact history (``ContactHistory.empty``
    for a first contact); the returned one must be stored before the outputs
    are acknowledged. A repeated ``event_id`` returns no outputs and the
    history unchanged.
    """
    # ``_version``'s guards spelled out: a Python call fewer on every decision.
    version = catalogue.policy_version
    if (
        version != policies.policy_version
        or history.customer_id != context.customer_id
        or now.tzinfo is None
    ):
        _version(catalogue, policies, context, history, now)  # raises the right error
    event_id = event.event_id
    decision_id = decision_id_for(event_id, version)
    if event_id in history.decided_event_ids:  # ``history.has_decided``, without the call
        duplicate = Explanation(
            decision_id,
            version,
            explain.OUTCOME_DUPLICATE,
            event_id=event_id,
            notes=("event already decided: nothing emitted",),
        )
        return DecisionResult([], [], history, duplicate)

    # ``_value_``, not ``.value``: the same plain string, without the enum property's
    # Python-level descriptor call.
    channel: str = event.channel._value_
    zone = customer_zone(context, policies.caps)
    history = prune(history, now, _history_horizon(catalogue, policies))
    # The trigger only when something quotes it (None until then): about a third of
    # decisions emit nothing, and its validation is one of the larger fixed costs.
    # Most events call for no suppression rule: no call then.
    emitted: tuple[SuppressionEvent, ...] = ()
    trigger: Trigger | None = None
    if event.type in _SUPPRESSION_EVENT_TYPES or complaints.reconcile_due(
        context, history, policies.complaints
    ):
        history, emitted, trigger = _suppression_rules(event, context, history, policies, now, zone)

    facts = DecisionFacts(context, channel, now, policies.frustration, event.type, event.attributes)
    complaint_detail = _complaint_detail(context, policies, now, zone)
    pick = arbitrate(
        catalogue.for_event(event.type, channel),
        facts,
        history,
        catalogue,
        policies,
        zone,
        complaint_detail,
    )
    actions: list[ActionEvent] = []
    # Most decisions emit no suppression: skip the comprehension's call then.
    notes = [f"{item.reason}: {item.detail}" for item in emitted] if emitted else []
    if pick.winner is not None:
        # No suppression built the trigger (the usual case): the action event validates
        # it as a nested dict, one validator call rather than two; ``action.trigger``
        # is then the model the cap rule quotes.
        action = _action_event(
            pick,
            decision_id,
            facts,
            policies,
            _trigger_fields(event) if trigger is None else trigger,
            version,
            complaint_detail,
            _briefing_for(pick, facts, history, catalogue, policies, zone),
        )
        actions.append(action)
        winner = pick.winner
        binding = pick.binding
        sent = (
            sent_action(decision_id, winner.id, winner.kind, winner.category, channel, now)
            if binding is None
            else sent_action(
                decision_id, binding.action_id, winner.kind, binding.category, channel, now
            )
        )
        history = record_decision(history, event_id, sent, policies.history.max_event_ids)
        history, capped = caps.after_send(
            history, winner.kind, channel, policies.caps, action.trigger, now, zone
        )
        emitted = (*emitted, *capped)
        if capped:
            notes.extend(f"{item.reason}: {item.detail}" for item in capped)
    else:
        if not pick.outcomes:
            notes.append(f"no catalogue action answers {event.type} on {channel}")
        history = record_decision(history, event_id, None, policies.history.max_event_ids)
    explanation = explain.explanation(
        decision_id,
        version,
        explain.OUTCOME_ACTION if actions else explain.OUTCOME_NO_ACTION,
        event_id,
        _chosen(pick),
        pick.outcomes,
        tuple(notes),
        None if pick.binding is None else actions[0].action.payload["subject"],
    )
    return _result(actions, list(emitted), history, explanation)


def next_best_action(
    context: CustomerContext,
    history: ContactHistory,
    channel: Channel | str,
    now: datetime,
    catalogue: Catalogue,
    policies: Policies,
    *,
    request_id: str | None = None,
) -> NextBestAction:
    """The action ``decide`` would choose right now on ``channel``, without an event.

    Considers every action deliverable on the channel (triggers do not apply),
    under the same rules. Changes nothing: the caller does not store a history,
    and an answer shown to an agent is not counted against caps.
    """
    version = _version(catalogue, policies, context, history, now)
    channel = Channel(channel)
    decision_id = query_decision_id(context.customer_id, channel.value, now, version)
    zone = customer_zone(context, policies.caps)
    history = prune(history, now, _history_horizon(catalogue, policies))
    facts = DecisionFacts(context, channel.value, now, policies.frustration)
    complaint_detail = _complaint_detail(context, policies, now, zone)
    pick = arbitrate(
        catalogue.for_channel(channel.value),
        facts,
        history,
        catalogue,
        policies,
        zone,
        complaint_detail,
    )
    trigger = Trigger(event_id=request_id or decision_id, type=QUERY_TRIGGER_TYPE, channel=channel)
    # The person who asks (an agent at call start, an associate) always gets the briefing.
    briefing = build_briefing(
        context, history, channel.value, now, policies, zone, catalogue.categories
    )
    action = (
        None
        if pick.winner is None
        else _action_event(
            pick,
            decision_id,
            facts,
            policies,
            trigger,
            version,
            complaint_detail,
            briefing if pick.winner.briefing else None,
        )
    )
    explanation = Explanation(
        decision_id,
        version,
        explain.OUTCOME_ACTION if action is not None else explain.OUTCOME_NO_ACTION,
        chosen=_chosen(pick),
        candidates=pick.outcomes,
        subject=None
        if action is None or pick.binding is None
        else action.action.payload["subject"],
    )
    return NextBestAction(action, explanation, briefing)


def _briefing_for(
    pick: Pick,
    facts: DecisionFacts,
    history: ContactHistory,
    catalogue: Catalogue,
    policies: Policies,
    zone: tzinfo,
) -> dict[str, Any] | None:
    """Only for a winner that carries it (associate and agent cards)."""
    winner = pick.winner
    if winner is None or not winner.briefing:
        return None
    return build_briefing(
        facts.context,
        history,
        facts.channel,
        facts.now,
        policies,
        zone,
        catalogue.categories,
        facts.interests_now(),
    )


def _chosen(pick: Pick) -> str | None:
    """The winner's id as sent: a template's concrete id."""
    if pick.winner is None:
        return None
    return pick.winner.id if pick.binding is None else pick.binding.action_id


# --- suppression rules ------------------------------------------------------------------


def _suppression_rules(
    event: InteractionEvent,
    context: CustomerContext,
    history: ContactHistory,
    policies: Policies,
    now: datetime,
    zone: tzinfo,
) -> tuple[ContactHistory, tuple[SuppressionEvent, ...], Trigger | None]:
    """The suppressions the event calls for, and the trigger if one was built for them."""
    emitted: tuple[SuppressionEvent, ...] = ()
    trigger: Trigger | None = None
    event_type = event.type
    if event_type in _SUPPRESSION_EVENT_TYPES:
        # Valid whenever the event is: the same field types as the interaction's.
        trigger = _trigger(event)
        if event_type == "consent_updated":
            history, emitted = consent.on_consent_updated(
                event, context, history, policies.consent, trigger, now
            )
        elif event_type == "purchase":
            history, emitted = purchase.on_purchase(
                event, history, policies.recent_purchase, trigger, now, zone
            )
        else:
            history, emitted = fatigue.on_dismissal(
                event, context, history, policies.fatigue, trigger, now, zone
            )
    # Every event, not only complaint_* ones: the context is the truth to converge on.
    if not complaints.reconcile_due(context, history, policies.complaints):
        return history, emitted, trigger
    if trigger is None:
        trigger = _trigger(event)
    history, reconciled = complaints.reconcile(
        context, history, policies.complaints, trigger, now, zone
    )
    return history, (*emitted, *reconciled), trigger


def _trigger(event: InteractionEvent) -> Trigger:
    # The model's validator on a dict: the same validation as ``Trigger(...)`` without
    # ``__init__``'s wrapper, and as ``model_validate`` without its keyword handling.
    trigger: Trigger = Trigger.__pydantic_validator__.validate_python(_trigger_fields(event))
    return trigger


def _trigger_fields(event: InteractionEvent) -> dict[str, Any]:
    """The trigger's fields, for ``Trigger`` or as the action event's nested ``trigger``."""
    return {"event_id": event.event_id, "type": event.type, "channel": event.channel}


# --- the action event ---------------------------------------------------------------------


def _action_event(
    pick: Pick,
    decision_id: str,
    facts: DecisionFacts,
    policies: Policies,
    trigger: Trigger | dict[str, Any],
    version: str,
    complaint_detail: str | None,
    briefing: dict[str, Any] | None = None,
) -> ActionEvent:
    action = pick.winner
    assert action is not None
    now, context = facts.now, facts.context
    # Reason models for the constant reasons, plain dicts for the rest: pydantic
    # validates the dicts and passes the (frozen, shared) models through.
    reasons: list[Reason | dict[str, str]] = [action.action_reason]
    kind = action.kind
    findings = facts.findings
    # Asked only when there is a situation to hand over (most decisions have none).
    helps = (findings or complaint_detail is not None) and kind in policies.frustration.answer_kinds
    situation: dict[str, Any] = {}
    if findings and helps:
        entries = []
        for finding in findings:
            where = frustration.signal_channel(context, finding)
            detail = frustration.describe(finding, now, where)
            reasons.append({"code": explain.REASON_FRUSTRATION, "detail": detail})
            entries.append(frustration.payload_entry(finding, where, detail))
        situation["frustration"] = entries
    if complaint_detail is not None:
        reasons.append({"code": explain.REASON_OPEN_COMPLAINT, "detail": complaint_detail})
        if helps:
            situation["open_complaints"] = complaints.open_complaint_entries(context)
    base = action.spec
    binding = pick.binding
    if binding is not None:
        # A template: the concrete product or category, and which fact chose it.
        assert action.template is not None
        assert pick.binding_reason is not None
        reasons.append(_binding_reason(_binding_reason_code(action), pick.binding_reason))
        base = _bound_spec(action, binding, facts)
    spec: ActionSpec | dict[str, Any] = base
    if situation or briefing is not None:
        # The agent or associate picks up where the customer gave up, and knows the story.
        payload = dict(base.payload)
        if situation:
            payload["context"] = situation
        if briefing is not None:
            payload["briefing"] = briefing
        spec = {"id": base.id, "kind": kind, "category": base.category, "payload": payload}
    if pick.suitability:
        texts = action.suitability_reasons
        for text in pick.suitability:  # a loop, not a generator object for ``extend``
            reasons.append(texts[text])
    purpose = consent.required_purpose(kind, policies.consent)
    if purpose is not None:
        reasons.append(_consent_reason(purpose, facts.channel))
    head, lever = action.score_terms
    eligible = pick.eligible
    reasons.append(
        _score_reason(pick.score, pick.weight, head, lever, eligible, len(pick.outcomes) - eligible)
    )
    # Validated as ever (the model's own validator, as ``model_validate`` calls it, less
    # that method's keyword handling), so an invalid event still fails here rather than
    # downstream.
    action_event: ActionEvent = ActionEvent.__pydantic_validator__.validate_python(
        {
            "decision_id": decision_id,
            "customer_id": context.customer_id,
            # The plain string: pydantic-core turns it into the member, cheaper than Channel().
            "channel": facts.channel,
            "action": spec,
            "score": pick.score,
            "reasons": reasons,
            "trigger": trigger,
            "decided_at": now,
            "expires_at": now + effective_ttl(action, policies),
            "policy_version": version,
        }
    )
    return action_event


@lru_cache(maxsize=4096)
def _score_reason(
    score: float, weight: float, head: str, lever: str, eligible: int, ruled_out: int
) -> Reason:
    """The score reason, built (validated) once per distinct text.

    Every argument comes from the catalogue, not from the customer: the score is the
    action's constants times a product of some of its suitability weights, and the
    counts are at most the candidates for an event. So the texts recur (240 distinct
    across 160,000 actions of generated customers with the starter catalogue), and a
    lookup here replaces two float renderings and a model validation (about 11,000
    instructions). Floats as keys are exact: the same score renders the same; a
    winner's score and weight are above zero, so 0.0 and -0.0 never meet. Bounded,
    so catalogues reloaded over months do not accumulate texts.
    """
    return Reason(
        code=explain.REASON_SCORE,
        detail=(
            f"{score:.4g} = {head} x context {weight:.3g} x {lever};"
            f" best of {eligible} eligible, {ruled_out} ruled out"
        ),
    )


_BOUND_SPECS_PER_ACTION = 1024  # distinct bindings remembered per template


def _bound_spec(action: ActionDef, binding: templates.Binding, facts: DecisionFacts) -> ActionSpec:
    """The template's action part for this binding, validated once per distinct payload."""
    template = action.template
    assert template is not None
    key = templates.subject_key(template, binding, facts)
    known = action.bound_specs
    spec = known.get(key)
    if spec is None:
        if len(known) >= _BOUND_SPECS_PER_ACTION:
            known.clear()  # a catalogue running for months must not accumulate customers
        payload = templates.bound_payload(template, action.id, action.payload, binding, facts)
        spec = known[key] = ActionSpec.__pydantic_validator__.validate_python(
            {
                "id": binding.action_id,
                "kind": action.kind,
                "category": binding.category,
                "payload": payload,
            }
        )
    return spec


@lru_cache(maxsize=4096)
def _binding_reason(code: str, detail: str) -> Reason:
    """Validated once per text: a customer's cart or interest is quoted on many decisions."""
    return Reason(code=code, detail=detail)


def _binding_reason_code(action: ActionDef) -> str:
    assert action.template is not None
    if action.template.slot == "life_stage":
        return explain.REASON_PROFILE
    return explain.REASON_INTEREST


@cache
def _consent_reason(purpose: str, channel: str) -> Reason:
    """A handful of (purpose, channel) pairs: each reason model is built once."""
    return Reason(code=explain.REASON_CONSENT, detail=f"{purpose} consent given for {channel}")


# --- guards -----------------------------------------------------------------------------


def _version(
    catalogue: Catalogue,
    policies: Policies,
    context: CustomerContext,
    history: ContactHistory,
    now: datetime,
) -> str:
    """Wiring errors fail loudly: they would otherwise decide with the wrong memory."""
    if catalogue.policy_version != policies.policy_version:
        raise ValueError(
            f"catalogue {catalogue.policy_version} and policies {policies.policy_version}"
            " were not loaded together"
        )
    if history.customer_id != context.customer_id:
        raise ValueError(
            f"contact history of {history.customer_id!r} given for {context.customer_id!r}"
        )
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return catalogue.policy_version


def _complaint_detail(
    context: CustomerContext, policies: Policies, now: datetime, zone: tzinfo
) -> str | None:
    """Rendered once per decision: both the rules and the reasons quote it."""
    if not context.open_complaints:
        return None
    return complaints.describe_open_complaints(context, policies.complaints, now, zone)


# The last (catalogue, policies) pair and its horizon. The pair changes only when the
# configuration is reloaded, and the max of three timedeltas behind a cached property
# cost about 2,400 instructions on every decision; two identity checks cost a tenth.
# Both are frozen, so the horizon of a pair never changes; the references held here
# keep the pair alive, so another pair cannot take their identities.
_last_horizon: tuple[Catalogue, Policies, timedelta] | None = None


def _history_horizon(catalogue: Catalogue, policies: Policies) -> timedelta:
    global _last_horizon
    last = _last_horizon
    if last is not None and last[0] is catalogue and last[1] is policies:
        return last[2]
    horizon = max(_MIN_HISTORY, catalogue.longest_cooldown, policies.longest_default_cooldown)
    _last_horizon = (catalogue, policies, horizon)
    return horizon
