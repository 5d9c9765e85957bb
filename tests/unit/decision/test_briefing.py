"""The customer briefing for associates and agents, one row per situation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import pytest

from libs.contract.interaction import InteractionEvent
from services.decision.domain.decide import next_best_action
from services.decision.domain.history import ContactHistory
from tests.unit.decision.support import CUSTOMER, T0, event, replay, run, starter

HOUR = timedelta(hours=1)
MARKETING = event("consent_updated", at=T0 - HOUR, purpose="marketing", granted=True)
CART = event("cart_add", at=T0 - HOUR, product_id="tv-55", category="tvs", price=499)
TVS = [
    event("page_view", at=T0 - HOUR, page_type="product", product_id=f"tv-{n}", category="tvs")
    for n in (1, 2, 3)
]
COMPLAINT = event(
    "complaint_opened", "phone", T0 - HOUR, case_id="K-7", category="billing", severity="high"
)
VISIT = event("store_visit", "store", T0, store_id="s1")


@dataclass(frozen=True)
class Case:
    name: str
    events: list[InteractionEvent]
    view: Callable[[dict[str, Any]], Any]
    expected: Any
    channel: str = "store"


CASES = [
    Case(
        "the online cart, with what cart_add said of each line",
        [CART],
        lambda b: b["cart"],
        [
            {
                "product_id": "tv-55",
                "category": "tvs",
                "price": 499.0,
                "added_at": (T0 - HOUR).isoformat(),
            }
        ],
    ),
    Case(
        "a long cart: the last five added, and how many there are",
        [event("cart_add", at=T0 - HOUR, product_id=f"p{n}", category="tvs") for n in range(7)],
        lambda b: ([item["product_id"] for item in b["cart"]], b["cart_size"]),
        (["p2", "p3", "p4", "p5", "p6"], 7),
    ),
    Case(
        "interests name the category and this week's products",
        [*TVS],
        lambda b: [(i["label"], i["products_this_week"]) for i in b["interests"]],
        [("TVs", ["tv-3", "tv-2", "tv-1"])],
    ),
    Case(
        "an open complaint: fix first, no pitch, whatever the consent",
        [MARKETING, CART, COMPLAINT],
        lambda b: (b["fix_first"][0]["case_id"], b["pitch"], b["headline"].split(";")[0]),
        (
            "K-7",
            {"allowed": False, "why": "an open complaint: fix it first, no pitch"},
            "open complaint K-7 (billing): fix first, no pitch",
        ),
    ),
    Case(
        "without marketing consent for the channel: what not to pitch",
        [CART],
        lambda b: (b["pitch"]["allowed"], [d["reason"] for d in b["do_not_pitch"]]),
        (False, ["no_consent"]),
    ),
    Case(
        "consent and no complaint: a pitch is fine",
        [MARKETING, CART],
        lambda b: b["pitch"],
        {"allowed": True, "why": "marketing consent given and no open complaint"},
    ),
    Case(
        "a category just bought is not pitched, with its rest",
        [
            MARKETING,
            event(
                "purchase",
                at=T0 - HOUR,
                order_id="O-1",
                items=[{"product_id": "tv-9", "category": "tvs"}],
            ),
        ],
        lambda b: [d["detail"] for d in b["do_not_pitch"]],
        ["nothing in tvs: bought 1 May 2025, resting until 15 May 2025"],
    ),
    Case(
        "the last contact: a call and how it ended",
        [
            event("call_ended", "phone", T0 - HOUR, disposition="resolved", duration_seconds=300),
        ],
        lambda b: {k: b["last_contact"][k] for k in ("channel", "what", "outcome")},
        {"channel": "phone", "what": "call", "outcome": "resolved"},
    ),
    Case(
        "the preferred channel is the one used most recently",
        [*TVS, event("app_open", "mobile", T0 - HOUR)],
        lambda b: b["preferred_channel"],
        "web",
    ),
    Case(
        "a customer we know nothing about",
        [event("identify", "store", T0 - HOUR)],
        lambda b: (b["headline"], b["cart"], b["interests"], b["last_contact"]),
        ("no offers (no consent)", [], [], None),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_briefing_tells_the_story(case: Case) -> None:
    config = starter()
    context = replay(case.events)
    answer = next_best_action(
        context,
        ContactHistory.empty(CUSTOMER),
        case.channel,
        T0,
        config.catalogue,
        config.policies,
    )
    assert answer.briefing is not None
    assert case.view(answer.briefing) == case.expected


def test_a_store_visit_with_an_online_cart_alerts_the_associate_with_the_briefing() -> None:
    config = starter()
    results = run([MARKETING, CART, *TVS, VISIT], config.catalogue, config.policies)
    (alert,) = results[-1][1].actions
    assert alert.action.id == "routing.store_associate_alert"
    briefing = alert.action.payload["briefing"]
    assert [item["product_id"] for item in briefing["cart"]] == ["tv-55"]
    assert briefing["interests"][0]["category"] == "tvs"
    assert briefing["headline"] == "online cart: tv-55; interested in TVs"


def test_the_last_contact_is_the_latest_action_sent_and_its_outcome() -> None:
    config = starter()
    results = run([MARKETING, CART, *TVS, VISIT], config.catalogue, config.policies)
    history = results[-1][1].history
    dismissed = event(
        "action_dismissed",
        "store",
        T0 + HOUR,
        decision_id="d",
        action_id="routing.store_associate_alert",
    )
    context = replay([MARKETING, CART, *TVS, VISIT, dismissed])
    answer = next_best_action(
        context, history, "phone", T0 + 2 * HOUR, config.catalogue, config.policies
    )
    assert answer.briefing is not None
    assert answer.briefing["last_contact"] == {
        "channel": "store",
        "what": "routing routing.store_associate_alert",
        "outcome": "dismissed",
        "at": T0.isoformat(),
        "when": "11:00",
    }


def test_no_raw_personal_data_reaches_the_briefing() -> None:
    """Intake hashes phones and emails; the briefing only reads the context and history."""
    config = starter()
    identified = event("identify", "store", T0 - HOUR, attrs={"note": "call me on +447700900123"})
    context = replay([identified, CART, *TVS])
    answer = next_best_action(
        context, ContactHistory.empty(CUSTOMER), "store", T0, config.catalogue, config.policies
    )
    text = orjson.dumps(answer.briefing).decode()
    assert "+447700900123" not in text
    assert "tv-55" in text
