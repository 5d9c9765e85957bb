"""Each decision rule of the contract, end to end: interactions.<channel> in,
actions.<channel> and suppressions out, through every stage on a real broker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from libs.common.settings import CommonSettings
from services.cli.stack import Stack
from tests.support.journey import Journey
from tests.support.kafka_io import produce, read_all, wait_for

pytestmark = pytest.mark.integration

GOLD = {"value_tier": "gold"}
MARKETING_ON = {"purpose": "marketing", "granted": True}
MARKETING_OFF = {"purpose": "marketing", "granted": False}
HOME = {"page_type": "home"}


def _kinds(actions: list[dict[str, Any]]) -> list[str]:
    return [a["action"]["kind"] for a in actions]


def _explained(outputs: list[dict[str, Any]]) -> None:
    """Rule 6: every action and suppression says why."""
    for output in outputs:
        if output["schema"] == "action/v1":
            assert output["reasons"]
            assert all(reason["detail"] for reason in output["reasons"])
            assert output["policy_version"]
        else:
            assert output["detail"]


async def test_offers_need_marketing_opt_in_and_withdrawal_suppresses_at_once(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    silent = Journey(full_pipeline, pipeline_settings)
    await silent.send("profile_updated", "web", GOLD)
    await silent.send("page_view", "web", HOME)
    await silent.send("page_view", "web", HOME)
    assert "offer" not in _kinds(await silent.actions())

    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("profile_updated", "web", GOLD)
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("page_view", "web", HOME)
    withdrawn = await journey.send("consent_updated", "web", MARKETING_OFF)
    await journey.send("page_view", "web", HOME)
    outputs = await journey.outputs(at_least=2)
    _explained(outputs)
    actions = [o for o in outputs if o["schema"] == "action/v1"]
    assert _kinds(actions) == ["offer"]
    assert actions[0]["_topic"].endswith("actions.web")
    suppression = next(o for o in outputs if o["schema"] == "suppression/v1")
    assert suppression["reason"] == "consent_withdrawn"
    assert suppression["state"] == "active"
    assert suppression["trigger"]["event_id"] == withdrawn["event_id"]


async def test_an_open_complaint_suppresses_offers_until_the_last_one_is_resolved(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("profile_updated", "web", GOLD)
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("complaint_opened", "phone", {"case_id": "K-1", "severity": "high"})
    await journey.send("page_view", "web", HOME)
    await journey.send("complaint_resolved", "phone", {"case_id": "K-1"})
    await journey.send("page_view", "web", HOME)
    outputs = await journey.outputs(at_least=5)
    _explained(outputs)
    suppressions = [o for o in outputs if o["schema"] == "suppression/v1"]
    assert [(s["reason"], s["state"]) for s in suppressions] == [
        ("open_complaint", "active"),
        ("open_complaint", "lifted"),
    ]
    assert suppressions[0]["suppression_id"] == suppressions[1]["suppression_id"]
    assert "K-1" in suppressions[0]["detail"]
    actions = [o for o in outputs if o["schema"] == "action/v1"]
    # While the complaint is open: service first, no offers anywhere.
    assert actions[0]["action"]["kind"] == "service"
    assert actions[0]["_topic"].endswith("actions.phone")
    assert "offer" not in _kinds(actions[:-1])
    assert actions[-1]["action"]["kind"] == "offer"


async def test_a_call_after_failed_web_checkouts_is_routed_with_that_context(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("cart_add", "web", {"product_id": "P-1", "category": "shoes", "price": 80})
    await journey.send("checkout_failed", "web", {"reason": "card_declined"})
    failed = await journey.send("checkout_failed", "web", {"reason": "card_declined"})
    call = await journey.send("call_started", "phone")
    actions = await journey.actions(at_least=2)
    _explained(actions)
    on_web = next(a for a in actions if a["trigger"]["event_id"] == failed["event_id"])
    assert on_web["_topic"].endswith("actions.web")
    assert on_web["action"]["kind"] in {"service", "routing"}
    routed = next(a for a in actions if a["trigger"]["event_id"] == call["event_id"])
    assert routed["_topic"].endswith("actions.phone")
    assert routed["action"]["kind"] == "routing"
    frustration = routed["action"]["payload"]["context"]["frustration"]
    assert any(f["signal"] == "failed_checkout" and f["channel"] == "web" for f in frustration)
    assert any("checkout failed" in reason["detail"] for reason in routed["reasons"])


async def test_offer_caps_hold_and_hitting_one_emits_a_suppression_until_the_day_ends(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("profile_updated", "web", GOLD)
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send(
        "purchase",
        "store",
        {"order_id": "O-1", "items": [{"product_id": "PH-1", "category": "phones", "price": 700}]},
    )
    for _ in range(5):
        await journey.send("page_view", "web", HOME)
    outputs = await journey.outputs(at_least=4)
    _explained(outputs)
    offers = [o for o in outputs if o["schema"] == "action/v1" and o["action"]["kind"] == "offer"]
    assert len([o for o in offers if o["channel"] == "web"]) == 2  # N per channel per day
    cap = next(o for o in outputs if o.get("reason") == "frequency_cap")
    assert cap["state"] == "active"
    assert cap["until"] is not None
    assert datetime.fromisoformat(cap["until"]) > datetime.fromisoformat(cap["effective_at"])
    # Recent purchase: the category just bought rests, with an end date.
    rest = next(o for o in outputs if o.get("reason") == "recent_purchase")
    assert rest["scope"]["categories"] == ["phones"]
    assert rest["until"] is not None
    assert all(o["action"]["payload"].get("product_id") != "PH-1" for o in offers)


async def test_an_action_dismissed_twice_is_not_shown_again(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("profile_updated", "web", GOLD)
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("page_view", "web", HOME)
    offer = (await journey.actions(at_least=1))[0]
    dismissed = {"decision_id": offer["decision_id"], "action_id": offer["action"]["id"]}
    await journey.send("action_dismissed", "web", dismissed)
    await journey.send("action_dismissed", "web", dismissed)
    await journey.send("page_view", "web", HOME)
    outputs = await journey.outputs(at_least=2)
    fatigue = next(o for o in outputs if o.get("reason") == "dismissal_fatigue")
    assert fatigue["scope"]["action_ids"] == [offer["action"]["id"]]
    assert fatigue["until"] is not None
    shown = [o for o in outputs if o["schema"] == "action/v1"]
    assert [a["action"]["id"] for a in shown].count(offer["action"]["id"]) == 1


async def test_one_event_one_decision_even_when_sent_twice(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("checkout_failed", "web", {"reason": "card_declined"})
    second = await journey.send("checkout_failed", "web", {"reason": "card_declined"})
    await journey.send(
        "checkout_failed", "web", {"reason": "card_declined"}, event_id=second["event_id"]
    )
    await journey.send("app_open", "mobile")  # a marker after the repeat
    actions = await journey.actions(at_least=1)
    assert [a["trigger"]["event_id"] for a in actions].count(second["event_id"]) == 1


async def test_the_agent_desktop_asks_for_the_next_best_action_without_side_effects(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("checkout_failed", "web", {"reason": "card_declined"})
    await journey.send("checkout_failed", "web", {"reason": "card_declined"})
    url = f"{full_pipeline.url('decision')}/v1/customers/{journey.customer_id}/next-best-action"
    first = httpx.get(url, params={"channel": "phone"}).json()
    again = httpx.get(url, params={"channel": "phone"}).json()
    assert first["action"]["action"]["kind"] == "routing"
    assert first["action"]["action"]["id"] == again["action"]["action"]["id"]
    assert httpx.get(url, params={"channel": "fax"}).status_code == 400
    unknown = url.replace(journey.customer_id, f"nobody-{journey.customer_id}")
    assert httpx.get(unknown, params={"channel": "phone"}).status_code == 404


async def test_suppressions_active_holds_every_suppression_in_force_until_erasure(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    """Two suppressions at once (consent withdrawn, then a complaint): the latest
    `suppressions.active` value for the customer, all compaction keeps, names
    both; the lift of one leaves the other; erasure leaves a tombstone."""
    journey = Journey(full_pipeline, pipeline_settings)
    names = journey.names
    key = journey.customer_id.encode()
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("consent_updated", "web", MARKETING_OFF)
    await journey.send("complaint_opened", "phone", {"case_id": "K-7", "severity": "low"})

    async def latest(count: int) -> list[bytes | None]:
        seen = await read_all(pipeline_settings, [names.suppressions_active])
        values = [r.value for r in sorted(seen, key=lambda r: r.offset) if r.key == key]
        return values if len(values) >= count else []

    values = await wait_for(lambda: latest(2), what="two in-force records")
    both = orjson.loads(values[-1] or b"")
    assert both["schema"] == "suppressions-in-force/v1"
    assert sorted(s["reason"] for s in both["suppressions"]) == [
        "consent_withdrawn",
        "open_complaint",
    ]
    await journey.send("complaint_resolved", "phone", {"case_id": "K-7"})
    values = await wait_for(lambda: latest(3), what="the lift's in-force record")
    assert [s["reason"] for s in orjson.loads(values[-1] or b"")["suppressions"]] == [
        "consent_withdrawn"
    ]
    erasure = {
        "schema": "erasure/v1",
        "request_id": f"er-{journey.customer_id}",
        "customer_id": journey.customer_id,
        "requested_at": datetime.now(UTC).isoformat(),
    }
    await produce(pipeline_settings, [(names.privacy_requests, key, orjson.dumps(erasure))])
    values = await wait_for(lambda: latest(4), what="the erasure's tombstone")
    assert values[-1] is None
