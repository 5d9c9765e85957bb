"""Rule 1: offers need marketing opt-in for the channel; withdrawal suppresses at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.decision.domain.policies import ConsentPolicy
from services.decision.domain.rules.consent import consent_exclusion, no_consent
from tests.unit.decision.support import T0, action, catalogue_of, consent, context, event, run


@pytest.mark.parametrize(
    ("kind", "channel", "granted", "excluded"),
    [
        ("offer", "web", consent("web"), False),
        ("offer", "phone", consent("web"), True),
        ("offer", "store", consent(), False),  # granted for all channels
        ("offer", "web", {}, True),  # opt-in: silence is no
        ("offer", "web", consent("web", purpose="personalization"), True),
        ("service", "web", {}, False),
        ("routing", "phone", {}, False),
        ("info", "mobile", {}, False),
    ],
)
def test_consent_exclusion(
    kind: str, channel: str, granted: dict[str, Any], excluded: bool
) -> None:
    result = consent_exclusion(kind, channel, context(consent=granted), ConsentPolicy())
    assert (result is not None) is excluded
    if result is not None:
        assert result.code == "no_consent"
        assert f"no marketing consent for {channel}" in result.detail
        # What arbitration answers itself once it knows the kind's purpose.
        assert no_consent("marketing", channel, kind) == result


def test_a_mapping_can_gate_other_kinds() -> None:
    policy = ConsentPolicy(purpose_by_kind={"offer": "marketing", "info": "personalization"})
    assert consent_exclusion("info", "web", context(), policy) is not None


CATALOGUE, POLICIES = catalogue_of(action("offer.a"))


def consent_event(
    granted: bool, channel: str | None, minutes: int, purpose: str = "marketing"
) -> Any:
    attributes: dict[str, Any] = {"purpose": purpose, "granted": granted}
    if channel is not None:
        attributes["channel"] = channel
    return event("consent_updated", "web", T0 + timedelta(minutes=minutes), attrs=attributes)


def suppressions(results: Any) -> list[list[tuple[str, str, tuple[str, ...], str]]]:
    return [
        [
            (
                s.state.value,
                s.reason.value,
                tuple(c.value for c in s.scope.channels),
                s.suppression_id,
            )
            for s in result.suppressions
        ]
        for _, result in results
    ]


def test_withdrawal_suppresses_at_once_and_a_grant_lifts_the_same_id() -> None:
    results = run(
        [
            consent_event(True, "web", 0),
            consent_event(False, "web", 1),
            consent_event(False, "web", 2),  # already suppressed: nothing new
            consent_event(True, "web", 3),
        ],
        CATALOGUE,
        POLICIES,
    )
    emitted = suppressions(results)
    assert emitted[0] == []
    [(state, reason, channels, sid)] = emitted[1]
    assert (state, reason, channels) == ("active", "consent_withdrawn", ("web",))
    assert emitted[2] == []
    assert emitted[3] == [("lifted", "consent_withdrawn", ("web",), sid)]
    active = results[1][1].suppressions[0]
    assert [kind.value for kind in active.scope.kinds] == ["offer"]
    assert active.until is None
    assert "marketing consent withdrawn for web" in active.detail


def test_withdrawal_for_all_channels_then_a_grant_for_one_narrows_it() -> None:
    results = run(
        [consent_event(False, None, 0), consent_event(True, "mobile", 1)], CATALOGUE, POLICIES
    )
    emitted = suppressions(results)
    [(state, _, channels, all_id)] = emitted[0]
    assert (state, channels) == ("active", ())
    lifted, *narrowed = emitted[1]
    assert lifted[0] == "lifted"
    assert lifted[3] == all_id
    assert sorted(c for item in narrowed for c in item[2]) == sorted(
        ["web", "phone", "store", "email", "sms", "push"]
    )
    assert all(item[0] == "active" for item in narrowed)


def test_grant_for_all_lifts_every_channel_suppression() -> None:
    results = run(
        [
            consent_event(False, "web", 0),
            consent_event(False, "sms", 1),
            consent_event(True, None, 2),
        ],
        CATALOGUE,
        POLICIES,
    )
    assert sorted(item[2] for item in suppressions(results)[2]) == [("sms",), ("web",)]
    assert all(item[0] == "lifted" for item in suppressions(results)[2])


def test_purposes_that_gate_nothing_emit_nothing() -> None:
    results = run([consent_event(False, "web", 0, purpose="personalization")], CATALOGUE, POLICIES)
    assert suppressions(results) == [[]]


def test_a_withdrawal_older_than_the_grant_suppresses_nothing() -> None:
    late = consent_event(False, "web", -5)  # occurred before the grant, arrives after it
    results = run([consent_event(True, "web", 0), late], CATALOGUE, POLICIES)
    assert suppressions(results) == [[], []]


def test_no_offer_without_consent_but_service_goes() -> None:
    catalogue, policies = catalogue_of(
        action("offer.a", value=100), action("service.b", kind="service", value=1)
    )
    [(_, without)] = run([event("page_view")], catalogue, policies)
    assert [a.action.id for a in without.actions] == ["service.b"]
    [_, (_, granted)] = run(
        [consent_event(True, "web", -1), event("page_view")], catalogue, policies
    )
    assert [a.action.id for a in granted.actions] == ["offer.a"]
    assert any(r.code == "consent" for r in granted.actions[0].reasons)
