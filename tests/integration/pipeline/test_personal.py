"""Personal, not generic, end to end: interactions.<channel> in, actions.<channel> and
suppressions out, through both stages on a real broker (issue 14)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from libs.common.settings import CommonSettings
from services.cli.stack import Stack
from tests.support.journey import Journey

pytestmark = pytest.mark.integration

MARKETING_ON = {"purpose": "marketing", "granted": True}
HOME = {"page_type": "home"}


def tv(n: int) -> dict[str, Any]:
    return {"page_type": "product", "product_id": f"tv-{n}", "category": "tvs"}


def offers(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in outputs if o["schema"] == "action/v1" and o["action"]["kind"] == "offer"]


def personal_reason(action: dict[str, Any]) -> str:
    detail: str = next(
        r["detail"] for r in action["reasons"] if r["code"] in {"interest", "profile"}
    )
    return detail


async def test_browsing_a_category_on_web_and_app_yields_an_offer_that_names_it(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("page_view", "web", tv(1))
    await journey.send("screen_view", "mobile", tv(2))
    await journey.send("page_view", "web", tv(3))
    (offer, *_) = offers(await journey.outputs(at_least=1))
    assert offer["action"]["id"] == "offer.category_picks:tvs"
    assert offer["action"]["category"] == "tvs"
    subject = offer["action"]["payload"]["subject"]
    assert subject["slot"] == "interest_category"
    assert subject["products"][0] in {"tv-2", "tv-3"}
    assert personal_reason(offer).startswith("you looked at 2 TVs this week")
    context = httpx.get(
        f"{full_pipeline.url('decision')}/v1/customers/{journey.customer_id}/context"
    ).json()
    assert context["interests"][0]["category"] == "tvs"
    assert [p["product_id"] for p in context["products_of_interest"]] == ["tv-3", "tv-2", "tv-1"]


async def test_buying_the_product_ends_offers_of_it_and_rests_its_category(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("cart_add", "web", {"product_id": "tv-55", "category": "tvs", "price": 499})
    await journey.send("page_view", "web", HOME)
    order = {"order_id": "O-55", "items": [{"product_id": "tv-55", "category": "tvs"}]}
    bought = await journey.send("purchase", "web", order)
    await journey.send("screen_view", "mobile", tv(7))
    await journey.send("screen_view", "mobile", HOME)
    outputs = await journey.outputs(at_least=3)
    before = [o for o in offers(outputs) if o["decided_at"] < bought["occurred_at"]]
    after = [o for o in offers(outputs) if o["decided_at"] >= bought["occurred_at"]]
    assert [o["action"]["id"] for o in before] == ["offer.cart_reminder:tv-55"]
    assert personal_reason(before[0]).startswith("you left tv-55 (TVs) in your cart")
    rest = next(o for o in outputs if o.get("reason") == "recent_purchase")
    assert rest["scope"]["categories"] == ["tvs"]
    assert rest["until"] is not None
    assert after, "the customer still gets offers, just not of what they bought"
    for offer in after:
        assert offer["action"]["category"] != "tvs"
        assert offer["action"]["payload"].get("product_id") != "tv-55"
    # What goes with a TV instead (the accessory of the purchase).
    assert after[0]["action"]["id"] == "offer.accessory_for_purchase:soundbars"


async def test_two_stages_of_life_get_different_offers_from_the_same_behaviour(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    chosen: dict[tuple[str, str], dict[str, Any]] = {}
    for segment in ("residential", "personal_banking"):
        for stage in ("young_adult", "retired"):
            journey = Journey(full_pipeline, pipeline_settings)
            await journey.send("profile_updated", "web", {"segment": segment, "life_stage": stage})
            await journey.send("consent_updated", "web", MARKETING_ON)
            await journey.send("page_view", "web", HOME)
            (offer,) = offers(await journey.outputs(at_least=1))
            chosen[segment, stage] = offer
    products = {key: o["action"]["payload"]["product_id"] for key, o in chosen.items()}
    assert products == {
        ("residential", "young_adult"): "first-home-tech-kit",
        ("residential", "retired"): "tablet-easy-10",
        ("personal_banking", "young_adult"): "first-home-saver",
        ("personal_banking", "retired"): "self-managed-funds",
    }
    young_saver = chosen["personal_banking", "young_adult"]
    assert young_saver["action"]["category"] == "savings"
    assert "starter pension" in personal_reason(young_saver)
    assert "(young adult)" in personal_reason(young_saver)


async def test_a_burst_across_web_and_app_gets_offers_up_to_the_caps_then_a_suppression(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("cart_add", "web", {"product_id": "tv-55", "category": "tvs"})
    await journey.send("cart_add", "mobile", {"product_id": "hp-2", "category": "headphones"})
    for _ in range(3):
        await journey.send("page_view", "web", tv(1))
        await journey.send("screen_view", "mobile", HOME)
    outputs = await journey.outputs(at_least=5)
    made = offers(outputs)
    # Two per channel per day, three in all (policies.yaml), then nothing.
    assert len([o for o in made if o["channel"] == "web"]) == 2
    assert len(made) == 3
    caps = [o for o in outputs if o.get("reason") == "frequency_cap"]
    assert {tuple(c["scope"]["channels"]) for c in caps} == {("web",), ()}
    for cap in caps:
        assert cap["state"] == "active"
        assert datetime.fromisoformat(cap["until"]) > datetime.fromisoformat(cap["effective_at"])
    everywhere = next(c for c in caps if not c["scope"]["channels"])
    assert all(o["decided_at"] <= everywhere["effective_at"] for o in made)
    # Each offer names the concrete product or category it is about.
    assert all(":" in o["action"]["id"] for o in made)


async def test_a_store_visit_with_an_online_cart_alerts_the_associate_with_the_story(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("cart_add", "web", {"product_id": "tv-55", "category": "tvs", "price": 499})
    await journey.send("page_view", "web", tv(1))
    await journey.send("screen_view", "mobile", tv(2))
    visit = await journey.send(
        "store_visit",
        "store",
        {"store_id": "S-12"},
        identity={"customer_id": journey.customer_id, "loyalty_id": f"L-{journey.customer_id}"},
    )
    actions = await journey.actions(at_least=1)
    alert = next(a for a in actions if a["trigger"]["event_id"] == visit["event_id"])
    assert alert["_topic"].endswith("actions.store")
    assert alert["action"]["id"] == "routing.store_associate_alert"
    briefing = alert["action"]["payload"]["briefing"]
    assert [item["product_id"] for item in briefing["cart"]] == ["tv-55"]
    assert briefing["interests"][0]["label"] == "TVs"
    # No marketing consent: the associate is told not to pitch.
    assert briefing["pitch"]["allowed"] is False
    assert briefing["preferred_channel"] == "web"


async def test_the_agent_at_call_start_gets_the_briefing_with_the_next_best_action(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("cart_add", "web", {"product_id": "tv-55", "category": "tvs"})
    await journey.send(
        "complaint_opened", "web", {"case_id": "K-9", "category": "delivery", "severity": "high"}
    )
    await journey.send("call_started", "phone", {"dialled": "support"})
    url = f"{full_pipeline.url('decision')}/v1/customers/{journey.customer_id}/next-best-action"
    answer = httpx.get(url, params={"channel": "phone"}).json()
    briefing = answer["briefing"]
    assert briefing["fix_first"][0]["case_id"] == "K-9"
    assert briefing["pitch"] == {
        "allowed": False,
        "why": "an open complaint: fix it first, no pitch",
    }
    assert briefing["headline"].startswith("open complaint K-9 (delivery): fix first, no pitch")
    assert [item["product_id"] for item in briefing["cart"]] == ["tv-55"]
    assert answer["action"]["action"]["kind"] in {"service", "routing"}
