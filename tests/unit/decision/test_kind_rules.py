"""Arbitration asks the four kind-wide rules only for ``Policies.kinds_ruled_by_kind``:
that set must hold every kind one of the rules can rule out, whatever the policies."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from libs.context.model import Complaint
from libs.contract.common import ActionKind
from services.decision.domain.history import ContactHistory, SentAction
from services.decision.domain.policies import Policies
from services.decision.domain.rules import caps, complaints, consent, frustration
from services.decision.domain.rules.frustration import Finding
from tests.unit.decision.support import T0, context

ALL_KINDS = tuple(kind.value for kind in ActionKind)
NOW = T0 + timedelta(hours=2)


def _worst_case_exclusions(kind: str, policies: Policies) -> list[object]:
    """Each rule's answer for ``kind`` to a customer it should all rule out: no
    consent, a complaint open, frustrated, and at every cap."""
    customer = context(open_complaints={"1": Complaint("billing", "high", T0, "phone")})
    sends = tuple(
        SentAction(
            decision_id=f"d{n}", action_id="a", kind=each, category="c", channel="web", at=T0
        )
        for n, each in enumerate(ALL_KINDS * 5)
    )
    history = ContactHistory(customer_id="c1", sent=sends)
    finding = Finding("failed_checkout", 2, T0, T0 + timedelta(minutes=4))
    return [
        consent.consent_exclusion(kind, "web", customer, policies.consent),
        complaints.complaint_exclusion(kind, customer, policies.complaints, "why"),
        frustration.frustration_exclusion(kind, (finding,), policies.frustration),
        caps.cap_exclusion(kind, "web", history, policies.caps, NOW, ZoneInfo("UTC")),
    ]


# Three policy setups: the defaults, every rule moved to another kind, and a
# frustration rule that exempts nothing.
POLICY_SETUPS = pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "consent": {"purpose_by_kind": {"service": "service"}},
            "complaints": {"withhold_kinds": ["routing"]},
            "frustration": {"answer_kinds": ["offer", "info", "service", "routing"]},
            "caps": {"counted_kinds": ["info"]},
        },
        {"frustration": {"answer_kinds": []}},
    ],
    ids=["defaults", "every rule on another kind", "frustration answers nothing"],
)


@POLICY_SETUPS
def test_a_kind_left_out_of_the_set_is_never_ruled_out(overrides: dict[str, object]) -> None:
    policies = Policies.model_validate(overrides)
    for kind in ALL_KINDS:
        excluded = [e for e in _worst_case_exclusions(kind, policies) if e is not None]
        assert (kind in policies.kinds_ruled_by_kind) == bool(excluded), (kind, excluded)


@POLICY_SETUPS
def test_kind_rules_say_which_rule_can_rule_each_kind_out(overrides: dict[str, object]) -> None:
    """Arbitration calls a rule for a kind only when ``kind_rules`` says it applies."""
    policies = Policies.model_validate(overrides)
    assert set(policies.kind_rules) == set(policies.kinds_ruled_by_kind)
    for kind, (purpose, withheld, answers, counted) in policies.kind_rules.items():
        by_consent, by_complaint, by_frustration, by_caps = (
            e is not None for e in _worst_case_exclusions(kind, policies)
        )
        assert (purpose is not None) == by_consent
        assert purpose == consent.required_purpose(kind, policies.consent)
        assert withheld == by_complaint
        assert answers == (not by_frustration)
        assert counted == by_caps
