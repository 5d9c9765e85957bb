"""Rule 2: an open complaint stops offers everywhere; service comes first."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from libs.context.model import Complaint
from libs.contract.common import Channel, Trigger
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import ComplaintPolicy
from services.decision.domain.rules.complaints import (
    complaint_exclusion,
    describe_open_complaints,
    reconcile,
    reconcile_due,
)
from tests.unit.decision.support import T0, action, catalogue_of, consent, context, event, run

OPEN = {"123": Complaint("billing", "high", T0 + timedelta(minutes=2), "phone")}
UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("kind", "open_complaints", "withhold", "excluded"),
    [
        ("offer", OPEN, ("offer",), True),
        ("offer", {}, ("offer",), False),
        ("service", OPEN, ("offer",), False),
        ("routing", OPEN, ("offer",), False),
        ("info", OPEN, ("offer",), False),
        ("info", OPEN, ("offer", "info"), True),
    ],
)
def test_complaint_exclusion(
    kind: str, open_complaints: dict[str, Complaint], withhold: tuple[str, ...], excluded: bool
) -> None:
    policy = ComplaintPolicy.model_validate({"withhold_kinds": withhold})
    result = complaint_exclusion(kind, context(open_complaints=open_complaints), policy, "why")
    assert (result is not None) is excluded


def test_description_reads_like_a_person_wrote_it() -> None:
    text = describe_open_complaints(context(open_complaints=OPEN), ComplaintPolicy(), T0, UTC)
    assert text == "open complaint #123 (billing) since 10:02: offers suppressed"
    two = {**OPEN, "124": Complaint(None, None, T0 + timedelta(minutes=5), "web")}
    text = describe_open_complaints(context(open_complaints=two), ComplaintPolicy(), T0, UTC)
    assert text == "open complaint #123 (billing) since 10:02 and 1 more: offers suppressed"


def test_description_is_cached_per_case_and_zone_but_reads_now_every_time() -> None:
    # 23:30 UTC on 1 May is 19:30 in New York (the same day) and 01:30 on 2 May in Paris.
    opened = T0.replace(hour=23, minute=30)
    ctx = context(open_complaints={"9": Complaint(None, None, opened, "web")})
    policy = ComplaintPolicy()
    paris, new_york = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
    later = opened + timedelta(hours=1)
    assert describe_open_complaints(ctx, policy, later, paris) == (
        "open complaint #9 since 01:30: offers suppressed"
    )
    assert describe_open_complaints(ctx, policy, later, new_york) == (
        "open complaint #9 since 19:30: offers suppressed"
    )
    # The same case a day later: the cached description, dated now.
    next_day = later + timedelta(days=1)
    assert describe_open_complaints(ctx, policy, next_day, paris) == (
        "open complaint #9 since 2 May 01:30: offers suppressed"
    )
    # Nothing withheld: no "suppressed" clause, whatever was cached for the default policy.
    quiet = ComplaintPolicy.model_validate({"withhold_kinds": ()})
    assert describe_open_complaints(ctx, quiet, later, paris) == "open complaint #9 since 01:30"


CATALOGUE, POLICIES = catalogue_of(
    action("offer.big", value=500),
    action(
        "service.ack",
        kind="service",
        value=1,
        eligibility={"has_open_complaint": True},
        triggers=["page_view", "call_started", "complaint_opened"],
    ),
)


def test_suppressed_from_first_opening_to_last_resolution_with_one_id() -> None:
    events = [
        event("consent_updated", "web", T0, attrs={"purpose": "marketing", "granted": True}),
        event(
            "complaint_opened", "phone", T0 + timedelta(minutes=1), case_id="1", category="billing"
        ),
        event("complaint_opened", "web", T0 + timedelta(minutes=2), case_id="2"),
        event("page_view", "web", T0 + timedelta(minutes=3)),
        event("complaint_resolved", "phone", T0 + timedelta(minutes=4), case_id="1"),
        event("page_view", "web", T0 + timedelta(minutes=5)),
        event("complaint_resolved", "phone", T0 + timedelta(minutes=6), case_id="2"),
        event("page_view", "web", T0 + timedelta(minutes=40)),
    ]
    results = [result for _, result in run(events, CATALOGUE, POLICIES, ctx=None)]
    opened = results[1].suppressions
    assert [(s.state.value, s.reason.value) for s in opened] == [("active", "open_complaint")]
    assert opened[0].scope.channels == ()
    assert [k.value for k in opened[0].scope.kinds] == ["offer"]
    assert opened[0].until is None
    assert opened[0].detail.startswith("open complaint #1 (billing) since 10:01")
    assert [r.suppressions for r in results[2:6]] == [[], [], [], []]
    [lifted] = results[6].suppressions
    assert (lifted.state.value, lifted.suppression_id) == ("lifted", opened[0].suppression_id)
    # While open: the service action, never the far more valuable offer, on any channel.
    for result in results[1:6]:
        assert [a.action.kind.value for a in result.actions] in ([], ["service"])
    assert results[1].actions[0].action.id == "service.ack"
    assert any(r.code == "open_complaint" for r in results[1].actions[0].reasons)
    excluded = {c.action_id: c.excluded for c in results[3].explanation.candidates}
    assert excluded["offer.big"] is not None
    assert excluded["offer.big"].code == "open_complaint"
    assert excluded["service.ack"] is not None
    assert excluded["service.ack"].code == "cooldown"
    assert [a.action.id for a in results[7].actions] == ["offer.big"]


def test_reconciles_when_the_history_never_saw_the_opening() -> None:
    ctx = context(open_complaints=OPEN, consent=consent())
    [(_, result)] = run(
        [event("page_view", "web", T0 + timedelta(minutes=3))], CATALOGUE, POLICIES, ctx=ctx
    )
    assert [s.reason.value for s in result.suppressions] == ["open_complaint"]


@pytest.mark.parametrize("withhold", [("offer",), ()])
@pytest.mark.parametrize("active", [True, False])
@pytest.mark.parametrize("open_complaints", [OPEN, {}])
def test_reconcile_is_due_exactly_when_it_changes_something(
    withhold: tuple[str, ...], active: bool, open_complaints: dict[str, Complaint]
) -> None:
    # ``decide`` skips ``reconcile`` (and building its trigger) when it is not due.
    policy = ComplaintPolicy.model_validate({"withhold_kinds": withhold})
    trigger = Trigger(event_id="e1", type="page_view", channel=Channel.web)
    history = ContactHistory.empty("c1")
    if active:
        history, _ = reconcile(
            context(open_complaints=OPEN), history, ComplaintPolicy(), trigger, T0, UTC
        )
        assert history.suppression_for("open_complaint") is not None
    ctx = context(open_complaints=open_complaints)
    after, emitted = reconcile(ctx, history, policy, trigger, T0, UTC)
    assert reconcile_due(ctx, history, policy) is bool(emitted)
    assert bool(emitted) is (after is not history)
