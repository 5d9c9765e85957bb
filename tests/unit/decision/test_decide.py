"""Arbitration, explanations, idempotence and the query path."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from libs.context.model import CustomerContext
from libs.contract.erasure import ErasureRequest
from libs.contract.interaction import InteractionEvent
from services.decision.domain.catalogue import Catalogue
from services.decision.domain.decide import (
    DecisionResult,
    _history_horizon,
    decide,
    next_best_action,
)
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import Policies
from services.decision.domain.rules.erasure import erasure_suppression
from services.decision.domain.rules.idempotence import decision_id_for
from tests.unit.decision.support import (
    CUSTOMER,
    T0,
    action,
    catalogue_of,
    consent,
    context,
    event,
    replay,
    run,
    starter,
)

CTX = context(consent=consent())


def decide_one(
    catalogue: Catalogue,
    policies: Policies,
    item: InteractionEvent | None = None,
    ctx: CustomerContext = CTX,
    history: ContactHistory | None = None,
) -> DecisionResult:
    item = item or event("page_view", "web", T0)
    ctx = replay([item], ctx)
    return decide(item, ctx, history or ContactHistory.empty(CUSTOMER), catalogue, policies, T0)


def test_highest_score_wins_and_ties_go_to_the_smaller_id() -> None:
    catalogue, policies = catalogue_of(
        action("offer.b", propensity=0.5, value=10),
        action("offer.a", propensity=0.25, value=20),  # same score 5.0
        action("offer.c", propensity=0.1, value=10, lever=4.0),  # 4.0
        action(
            "offer.d",
            propensity=0.1,
            value=10,
            suitability=[{"when": {"channel": "phone"}, "weight": 9}],
        ),
    )
    result = decide_one(catalogue, policies)
    assert [a.action.id for a in result.actions] == ["offer.a"]
    assert result.actions[0].score == pytest.approx(5.0)
    scores = {c.action_id: c.score for c in result.explanation.candidates}
    assert scores == pytest.approx({"offer.a": 5.0, "offer.b": 5.0, "offer.c": 4.0, "offer.d": 1.0})


def test_suitability_multiplies_the_context_weight() -> None:
    catalogue, policies = catalogue_of(
        action("offer.a", value=10),
        action(
            "offer.b",
            value=5,
            suitability=[
                {"when": {"channel": "web"}, "weight": 3, "reason": "on the web"},
                {"when": {"channel": "phone"}, "weight": 100},
            ],
        ),
    )
    [chosen] = decide_one(catalogue, policies).actions
    assert chosen.action.id == "offer.b"
    assert chosen.score == pytest.approx(7.5)
    assert [r.detail for r in chosen.reasons if r.code == "suitability"] == ["on the web (x3)"]


def test_action_event_fields() -> None:
    catalogue, policies = catalogue_of(
        action("offer.a", ttl="2h", payload={"template_id": "t1"}, reason="because")
    )
    item = event("page_view", "web", T0, event_id="evt-1")
    [chosen] = decide_one(catalogue, policies, item).actions
    assert chosen.decision_id == decision_id_for("evt-1", "test")
    assert chosen.customer_id == CUSTOMER
    assert chosen.channel.value == "web"
    assert chosen.action.payload == {"template_id": "t1"}
    assert (chosen.trigger.event_id, chosen.trigger.type, chosen.trigger.channel) == (
        "evt-1",
        "page_view",
        "web",
    )
    assert chosen.decided_at == T0
    assert chosen.expires_at == T0 + timedelta(hours=2)
    assert chosen.policy_version == "test"
    assert [r.code for r in chosen.reasons] == ["action", "consent", "score"]
    assert chosen.reasons[0].detail == "because"
    assert chosen.reasons[-1].detail.startswith(
        "5 = propensity 0.5 x value 10 x context 1 x lever 1"
    )


def test_triggers_and_channels_select_the_candidates() -> None:
    catalogue, policies = catalogue_of(
        action("offer.phone_only", channels=["phone"]),
        action("offer.on_search", triggers=["search"]),
        action("offer.query_only", triggers=[]),
        action("offer.page", value=1),
    )
    assert [a.action.id for a in decide_one(catalogue, policies).actions] == ["offer.page"]
    result = decide_one(catalogue, policies, event("cart_remove", "web", T0, product_id="p"))
    assert result.actions == []
    assert "no catalogue action answers" in result.explanation.notes[0]


def test_a_repeated_event_yields_nothing_and_the_same_id_on_a_lost_history() -> None:
    catalogue, policies = catalogue_of(action("offer.a"))
    item = event("page_view", "web", T0, event_id="evt-9")
    first = decide_one(catalogue, policies, item)
    again = decide(item, replay([item], CTX), first.history, catalogue, policies, T0)
    assert (again.actions, again.suppressions) == ([], [])
    assert again.history is first.history
    assert again.explanation.outcome == "duplicate"
    replayed = decide_one(catalogue, policies, item)  # history lost: same decision id
    assert replayed.actions[0].decision_id == first.actions[0].decision_id


def test_the_decision_id_is_a_digest_of_the_event_id_and_the_policy_version() -> None:
    # Consumers and stored histories rely on this exact id: it must never change.
    digest = hashlib.blake2b(b"evt-9|v1", digest_size=12).hexdigest()
    assert decision_id_for("evt-9", "v1") == f"dec-{digest}"
    # Each id hashes from a fresh copy: nothing carries over from the previous one.
    assert decision_id_for("evt-9", "v1") == f"dec-{digest}"
    assert decision_id_for("evt-9", "v2") != f"dec-{digest}"


def test_cooldown_stops_repeating_the_same_action() -> None:
    catalogue, policies = catalogue_of(action("service.a", kind="service", cooldown="1h"))
    results = run(
        [event("page_view", "web", T0 + timedelta(minutes=m)) for m in (0, 30, 61)],
        catalogue,
        policies,
        ctx=CTX,
    )
    assert [len(r.actions) for _, r in results] == [1, 0, 1]
    excluded = results[1][1].explanation.candidates[0].excluded
    assert excluded is not None
    assert excluded.code == "cooldown"


def test_wiring_errors_fail_loudly() -> None:
    catalogue, policies = catalogue_of(action("offer.a"))
    item = event("page_view")
    with pytest.raises(ValueError, match="not loaded together"):
        decide(
            item,
            CTX,
            ContactHistory.empty(CUSTOMER),
            catalogue,
            policies.model_copy(update={"policy_version": "other"}),
            T0,
        )
    with pytest.raises(ValueError, match="contact history of 'someone'"):
        decide(item, CTX, ContactHistory.empty("someone"), catalogue, policies, T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(
            item, CTX, ContactHistory.empty(CUSTOMER), catalogue, policies, T0.replace(tzinfo=None)
        )


def test_next_best_action_uses_the_same_rules_and_changes_nothing() -> None:
    config = starter()
    events = [
        event("checkout_failed", "web", T0),
        event("checkout_failed", "web", T0 + timedelta(minutes=2)),
    ]
    results = run(events, config.catalogue, config.policies, ctx=CTX)
    history = results[-1][1].history
    ctx = replay(events, CTX)
    answer = next_best_action(
        ctx,
        history,
        "phone",
        T0 + timedelta(minutes=5),
        config.catalogue,
        config.policies,
        request_id="desk-1",
    )
    assert answer.action is not None
    assert answer.action.action.id == "routing.phone_priority_support"
    assert answer.action.trigger.type == "query"
    assert answer.action.trigger.event_id == "desk-1"
    assert answer.action.policy_version == config.policy_version
    again = next_best_action(
        ctx,
        history,
        "phone",
        T0 + timedelta(minutes=5),
        config.catalogue,
        config.policies,
        request_id="desk-1",
    )
    assert again == answer  # deterministic, and nothing was recorded in between
    # The same answer the stream gives to a call at that moment.
    call = event("call_started", "phone", T0 + timedelta(minutes=5))
    streamed = decide(
        call,
        replay([call], ctx),
        history,
        config.catalogue,
        config.policies,
        T0 + timedelta(minutes=5),
    )
    assert streamed.actions[0].action.id == answer.action.action.id


def test_erasure_suppression_covers_everything() -> None:
    request = ErasureRequest.model_validate(
        {
            "schema": "erasure/v1",
            "request_id": "r1",
            "customer_id": "c1",
            "requested_at": T0.isoformat(),
        }
    )
    first = erasure_suppression(request, T0)
    assert first.reason.value == "erasure"
    assert first.until is None
    assert first.scope.channels == ()
    assert first.scope.kinds == ()
    assert first.trigger.channel is None
    assert (
        erasure_suppression(request, T0 + timedelta(seconds=5)).suppression_id
        == first.suppression_id
    )


def test_every_action_and_suppression_says_why() -> None:
    config = starter()
    events = [
        event("consent_updated", "web", T0, attrs={"purpose": "marketing", "granted": True}),
        event(
            "purchase",
            "web",
            T0,
            order_id="o1",
            items=[{"product_id": "phone-x1", "category": "phones"}],
        ),
        event("complaint_opened", "phone", T0 + timedelta(minutes=1), case_id="9"),
        event("call_started", "phone", T0 + timedelta(minutes=2)),
        event("complaint_resolved", "phone", T0 + timedelta(minutes=3), case_id="9"),
        event("page_view", "web", T0 + timedelta(minutes=4), page_type="account"),
    ]
    results = run(events, config.catalogue, config.policies, ctx=CTX)
    outputs = [(a.reasons, a.policy_version) for _, r in results for a in r.actions]
    assert outputs
    assert all(reasons and version == config.policy_version for reasons, version in outputs)
    details = [s.detail for _, r in results for s in r.suppressions]
    assert len(details) >= 3
    assert all(details)


def test_history_horizon_is_recomputed_for_another_catalogue_or_policies() -> None:
    short, policies = catalogue_of(action("offer.a", cooldown="1d"))
    long, _ = catalogue_of(action("offer.b", cooldown="30d"))
    assert _history_horizon(short, policies) == timedelta(days=2)  # the floor
    assert _history_horizon(long, policies) == timedelta(days=30)
    assert _history_horizon(short, policies) == timedelta(days=2)
    # Validated afresh: ``model_copy`` would carry over the cached longest default cooldown.
    patient = Policies.model_validate(
        {
            **policies.model_dump(),
            "defaults": {
                "cooldown": {"offer": "60d", "service": "1d", "routing": "1d", "info": "1d"}
            },
        }
    )
    assert _history_horizon(short, patient) == timedelta(days=60)
