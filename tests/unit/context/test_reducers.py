"""Every reducer, one row per behaviour: given these events, the context shows this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from libs.context import CustomerContext
from libs.context.model import HELP_LOOP_VIEWS
from libs.contract.interaction import InteractionEvent
from tests.unit.context.factories import T0, apply_all, event

HOUR = timedelta(hours=1)


def m(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass(frozen=True)
class Case:
    name: str
    events: list[InteractionEvent]
    view: Callable[[CustomerContext], Any]
    expected: Any


def signals(name: str) -> Callable[[CustomerContext], int]:
    return lambda ctx: len(ctx.signals.get(name, ()))


def ring(channel: str = "web") -> Callable[[CustomerContext], list[tuple[str, dict[str, Any]]]]:
    return lambda ctx: [(i.type, dict(i.attributes)) for i in ctx.recent.get(channel, ())]


CASES = [
    # identify and the types that only record the interaction
    Case(
        "identify is recorded and changes nothing else",
        [event("identify", identity={"customer_id": "C"})],
        lambda c: (ring()(c), c.signals, c.cart, c.open_complaints),
        ([("identify", {})], {}, (), {}),
    ),
    Case(
        "checkout_started, app_open and push events are recorded only",
        [
            event("checkout_started", at=m(1)),
            event("app_open", at=m(2), on="mobile"),
            event("push_opened", at=m(3), on="mobile"),
            event("push_dismissed", at=m(4), on="mobile"),
        ],
        lambda c: ([i.type for i in c.recent["mobile"]], len(c.recent["web"]), c.signals),
        (["app_open", "push_opened", "push_dismissed"], 1, {}),
    ),
    Case(
        "custom x- types are recorded without their attributes",
        [event("x-loyalty-tier-changed", tier="gold", points=10)],
        ring(),
        [("x-loyalty-tier-changed", {})],
    ),
    # consent
    Case(
        "consent is opt-in: nothing granted means no",
        [event("page_view")],
        lambda c: c.has_consent("marketing", "web"),
        False,
    ),
    Case(
        "a purpose-wide grant applies to every channel",
        [event("consent_updated", purpose="marketing", granted=True)],
        lambda c: [c.has_consent("marketing", ch) for ch in ("web", "email", "sms")],
        [True, True, True],
    ),
    Case(
        "a newer per-channel withdrawal overrides the purpose-wide grant",
        [
            event("consent_updated", at=m(1), purpose="marketing", granted=True),
            event("consent_updated", at=m(2), purpose="marketing", channel="sms", granted=False),
        ],
        lambda c: (c.has_consent("marketing", "sms"), c.has_consent("marketing", "email")),
        (False, True),
    ),
    Case(
        "a purpose-wide withdrawal supersedes older per-channel grants",
        [
            event("consent_updated", at=m(1), purpose="marketing", channel="sms", granted=True),
            event("consent_updated", at=m(2), purpose="marketing", granted=False),
        ],
        lambda c: (c.has_consent("marketing", "sms"), c.consent["marketing"].channels),
        (False, {}),
    ),
    Case(
        "a late, older statement does not undo a newer one",
        [
            event("consent_updated", at=m(5), purpose="marketing", granted=False),
            event("consent_updated", at=m(1), purpose="marketing", channel="web", granted=True),
        ],
        lambda c: c.has_consent("marketing", "web"),
        False,
    ),
    Case(
        "statements at the same second: withdrawal wins",
        [
            event("consent_updated", at=m(1), purpose="marketing", channel="web", granted=False),
            event("consent_updated", at=m(1), purpose="marketing", granted=True),
        ],
        lambda c: (c.has_consent("marketing", "web"), c.has_consent("marketing", "email")),
        (False, True),
    ),
    Case(
        "purposes are independent",
        [event("consent_updated", purpose="service", granted=True)],
        lambda c: (c.has_consent("service", "web"), c.has_consent("marketing", "web")),
        (True, False),
    ),
    Case(
        "an unknown purpose or channel is ignored, never read as 'all channels'",
        [
            event("consent_updated", at=m(1), purpose="marketing", channel="fax", granted=True),
            event("consent_updated", at=m(2), purpose="spam", granted=True),
            event("consent_updated", at=m(3), purpose="marketing", granted="yes"),
        ],
        lambda c: c.consent,
        {},
    ),
    # profile
    Case(
        "profile updates are partial: absent fields keep their value",
        [
            event("profile_updated", at=m(1), segment="family", language="fr-BE"),
            event("profile_updated", at=m(2), value_tier="gold", timezone="Europe/Brussels"),
        ],
        lambda c: c.profile.__dict__,
        {
            "segment": "family",
            "life_stage": None,
            "value_tier": "gold",
            "timezone": "Europe/Brussels",
            "language": "fr-BE",
        },
    ),
    # purchases and cart
    Case(
        "a purchase records each line and takes bought products out of the cart",
        [
            event("cart_add", at=m(1), product_id="p1"),
            event("cart_add", at=m(2), product_id="p2"),
            event(
                "purchase",
                at=m(3),
                order_id="o1",
                items=[
                    {"product_id": "p1", "category": "shoes", "price": 50.0},
                    {"product_id": "p3", "category": "socks"},
                ],
                total=55.0,
            ),
        ],
        lambda c: (c.cart, [(p.order_id, p.product_id, p.category) for p in c.purchases]),
        (("p2",), [("o1", "p1", "shoes"), ("o1", "p3", "socks")]),
    ),
    Case(
        "purchase lines without product or category are skipped",
        [event("purchase", order_id="o1", items=[{"product_id": "p1"}, "junk", {"category": "x"}])],
        lambda c: c.purchases,
        (),
    ),
    Case(
        "cart_add is idempotent per product; cart_remove removes",
        [
            event("cart_add", at=m(1), product_id="p1"),
            event("cart_add", at=m(2), product_id="p1"),
            event("cart_add", at=m(3), product_id="p2"),
            event("cart_remove", at=m(4), product_id="p1"),
            event("cart_remove", at=m(5), product_id="never-added"),
        ],
        lambda c: c.cart,
        ("p2",),
    ),
    # complaints
    Case(
        "complaint_opened records the case with its channel",
        [event("complaint_opened", on="phone", case_id="K1", category="billing", severity="high")],
        lambda c: {k: (v.category, v.severity, v.channel) for k, v in c.open_complaints.items()},
        {"K1": ("billing", "high", "phone")},
    ),
    Case(
        "an unknown severity is dropped, the case kept",
        [event("complaint_opened", case_id="K1", severity="apocalyptic")],
        lambda c: (c.has_open_complaint, c.open_complaints["K1"].severity),
        (True, None),
    ),
    Case(
        "complaint_resolved closes the case and remembers it",
        [
            event("complaint_opened", at=m(1), case_id="K1"),
            event("complaint_opened", at=m(2), case_id="K2"),
            event("complaint_resolved", at=m(3), case_id="K1"),
        ],
        lambda c: (list(c.open_complaints), list(c.resolved_complaints)),
        (["K2"], ["K1"]),
    ),
    Case(
        "a resolution that overtook its opening keeps the case closed",
        [
            event("complaint_resolved", at=m(5), case_id="K1"),
            event("complaint_opened", at=m(1), case_id="K1"),
        ],
        lambda c: c.has_open_complaint,
        False,
    ),
    Case(
        "re-opening a case after its resolution opens it again",
        [
            event("complaint_opened", at=m(1), case_id="K1"),
            event("complaint_resolved", at=m(2), case_id="K1"),
            event("complaint_opened", at=m(3), case_id="K1"),
        ],
        lambda c: c.has_open_complaint,
        True,
    ),
    Case(
        "a repeated opening keeps the first opened_at",
        [
            event("complaint_opened", at=m(1), case_id="K1"),
            event("complaint_opened", at=m(9), case_id="K1"),
        ],
        lambda c: c.open_complaints["K1"].opened_at,
        T0 + m(1),
    ),
    # action outcomes
    Case(
        "outcomes are counted per action id",
        [
            event("action_shown", at=m(1), decision_id="d1", action_id="A"),
            event("action_dismissed", at=m(2), decision_id="d1", action_id="A"),
            event("action_shown", at=m(3), decision_id="d2", action_id="A"),
            event("action_accepted", at=m(4), decision_id="d2", action_id="A"),
            event("action_shown", at=m(5), decision_id="d3", action_id="B"),
        ],
        lambda c: {
            k: (o.shown, o.accepted, o.dismissed, o.recent_dismissals)
            for k, o in c.outcomes.items()
        },
        {"A": (2, 1, 1, (T0 + m(2),)), "B": (1, 0, 0, ())},
    ),
    Case(
        "dismissals are queryable within a window",
        [
            event("action_dismissed", at=-timedelta(days=40), decision_id="d0", action_id="A"),
            event("action_dismissed", at=m(1), decision_id="d1", action_id="A"),
            event("action_dismissed", at=m(2), decision_id="d2", action_id="A"),
        ],
        lambda c: c.dismissals_within("A", timedelta(days=30), T0 + m(3)),
        2,
    ),
    # views, sessions and help loops
    Case(
        "page and screen views are counted in the channel's session",
        [
            event("page_view", at=m(1), session_id="s1", page_type="home"),
            event("page_view", at=m(2), session_id="s1", page_type="product", product_id="p1"),
            event("screen_view", at=m(3), on="mobile", page_type="home"),
        ],
        lambda c: {ch: (s.session_id, s.views) for ch, s in c.sessions.items()},
        {"web": ("s1", 2), "mobile": (None, 1)},
    ),
    Case(
        "a new session id starts a new session",
        [
            event("page_view", at=m(1), session_id="s1"),
            event("page_view", at=m(2), session_id="s2"),
        ],
        lambda c: (
            c.sessions["web"].session_id,
            c.sessions["web"].views,
            c.sessions["web"].started_at,
        ),
        ("s2", 1, T0 + m(2)),
    ),
    Case(
        "without session ids, 30 idle minutes start a new session",
        [
            event("page_view", at=m(0)),
            event("page_view", at=m(20)),
            event("page_view", at=m(51)),
        ],
        lambda c: (c.sessions["web"].views, c.sessions["web"].started_at),
        (1, T0 + m(51)),
    ),
    Case(
        "a late event of an earlier session does not rewind the current one",
        [
            event("page_view", at=m(60), session_id="s2"),
            event("page_view", at=m(1), session_id="s1"),
        ],
        lambda c: (c.sessions["web"].session_id, c.sessions["web"].views),
        ("s2", 1),
    ),
    Case(
        f"the {HELP_LOOP_VIEWS}rd help page in a session is a help-page loop",
        [event("page_view", at=m(n), session_id="s1", page_type="help") for n in range(4)],
        lambda c: (c.sessions["web"].help_views, len(c.signals["help_page_loop"])),
        (4, 2),
    ),
    Case(
        "help pages in different sessions are not a loop",
        [
            event("page_view", at=m(1), session_id="s1", page_type="help"),
            event("page_view", at=m(2), session_id="s1", page_type="help"),
            event("page_view", at=m(3), session_id="s2", page_type="help"),
        ],
        signals("help_page_loop"),
        0,
    ),
    # search, checkout, calls
    Case(
        "an empty search is a signal; a fruitful one is not",
        [
            event("search", at=m(1), query="blue shoes", results_count=0),
            event("search", at=m(2), query="red shoes", results_count=12),
            event("search", at=m(3), results_count=False),
        ],
        lambda c: (len(c.signals["empty_search"]), ring()(c)[0]),
        (1, ("search", {"results_count": 0})),
    ),
    Case(
        "a failed checkout is a signal",
        [
            event("checkout_started", at=m(1)),
            event("checkout_failed", at=m(2), reason="card declined"),
        ],
        signals("failed_checkout"),
        1,
    ),
    Case(
        "an abandoned call is a signal",
        [
            event("call_started", on="phone", at=m(1)),
            event("call_abandoned", on="phone", at=m(5), stage="queue", wait_seconds=240.0),
        ],
        lambda c: (len(c.signals["abandoned_call"]), ring("phone")(c)[-1]),
        (1, ("call_abandoned", {"stage": "queue", "wait_seconds": 240.0})),
    ),
    Case(
        "returning to an IVR menu in the same call is an IVR loop",
        [
            event("call_started", on="phone", at=m(0)),
            event("ivr_step", on="phone", at=m(1), menu="main"),
            event("ivr_step", on="phone", at=m(2), menu="billing"),
            event("ivr_step", on="phone", at=m(3), menu="main"),
        ],
        lambda c: (len(c.signals["ivr_loop"]), c.sessions["phone"].ivr_menus),
        (1, ("main", "billing")),
    ),
    Case(
        "a new call starts with no menus visited",
        [
            event("call_started", on="phone", at=m(0)),
            event("ivr_step", on="phone", at=m(1), menu="main"),
            event("call_ended", on="phone", at=m(2), duration_seconds=90.0),
            event("call_started", on="phone", at=m(3)),
            event("ivr_step", on="phone", at=m(4), menu="main"),
        ],
        signals("ivr_loop"),
        0,
    ),
    Case(
        "a new call soon after one without session ids is still a new call",
        [
            event("call_started", on="phone", at=m(0)),
            event("ivr_step", on="phone", at=m(1), menu="main"),
            event("call_started", on="phone", at=m(3), session_id="call-2"),
            event("ivr_step", on="phone", at=m(4), menu="main", session_id="call-2"),
        ],
        lambda c: (signals("ivr_loop")(c), c.sessions["phone"].session_id),
        (0, "call-2"),
    ),
    Case(
        "call lifecycle events keep their key attributes",
        [
            event("call_started", on="phone", at=m(0), dialled="0800"),
            event("call_queued", on="phone", at=m(1), queue="billing"),
            event("call_connected", on="phone", at=m(2), queue="billing", agent_id="ag7"),
            event("call_ended", on="phone", at=m(9), disposition="solved"),
        ],
        ring("phone"),
        [
            ("call_started", {"dialled": "0800"}),
            ("call_queued", {"queue": "billing"}),
            ("call_connected", {"queue": "billing", "agent_id": "ag7"}),
            ("call_ended", {"disposition": "solved"}),
        ],
    ),
    # store
    Case(
        "store visits open a store session; assists and returns are recorded",
        [
            event("store_visit", on="store", at=m(0), store_id="S1"),
            event("associate_assist", on="store", at=m(5), store_id="S1", associate_id="a9"),
            event("return", on="store", at=m(9), product_id="p1", reason="too small"),
        ],
        lambda c: (ring("store")(c), c.sessions["store"].started_at),
        (
            [
                ("store_visit", {"store_id": "S1"}),
                ("associate_assist", {"store_id": "S1", "associate_id": "a9"}),
                ("return", {"product_id": "p1", "reason": "too small"}),
            ],
            T0,
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_reducer(case: Case) -> None:
    ctx = apply_all(case.events)
    assert case.view(ctx) == case.expected


def test_malformed_attributes_leave_state_alone_but_record_the_event() -> None:
    junk: list[InteractionEvent] = [
        event("purchase", at=m(1), order_id=5, items="p1"),
        event("complaint_opened", at=m(2), case_id=["K1"]),
        event("complaint_resolved", at=m(3)),
        event("action_shown", at=m(4), action_id={"id": "A"}),
        event("cart_add", at=m(5), product_id=None),
        event("ivr_step", on="phone", at=m(6), menu=3),
        event("consent_updated", at=m(7), purpose=["marketing"], channel={"x": 1}, granted=1),
        event("profile_updated", at=m(8), segment=3, language=""),
        event("search", at=m(9), results_count="0"),
        event("page_view", at=m(10), page_type=["help"]),
    ]
    ctx = apply_all(junk)
    assert len(ctx.recent["web"]) == 9
    assert (ctx.purchases, ctx.open_complaints, ctx.outcomes, ctx.cart) == ((), {}, {}, ())
    assert (ctx.consent, ctx.signals, ctx.profile.segment) == ({}, {}, None)


def test_key_attributes_are_bounded_scalars() -> None:
    ctx = apply_all(
        [
            event("return", on="store", at=m(1), product_id="p1", reason="x" * 500),
            event("cart_add", at=m(2), product_id="p2", price=float("nan")),
            event("search", at=m(3), results_count=2**70),
        ]
    )
    assert ctx.recent["store"][0].attributes["reason"] == "x" * 128
    assert ctx.recent["web"][0].attributes == {"product_id": "p2"}
    assert ctx.recent["web"][1].attributes == {}
    assert CustomerContext.from_bytes(ctx.to_bytes()) == ctx
