"""Timeline, suppressions in force, one decision (proxied to a stand-in decision
service), the suppression stream (from Kafka), and problem details everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libs.common.kafka import create_producer
from libs.common.settings import CommonSettings
from libs.contract.codec import to_json_bytes
from libs.contract.suppression import SuppressionEvent
from tests.integration.gateway.conftest import SettingsFactory
from tests.integration.gateway.support import (
    OPERATOR_KEY,
    PHONE_KEY,
    READONLY_KEY,
    WEB_KEY,
    RunningGateway,
    SseReader,
    auth,
    running_gateway,
    serve,
)

pytestmark = pytest.mark.integration
KNOWN = "cust-42"
PROBLEM = "application/problem+json"
DECIDED = "2025-05-01T10:00:00+00:00"


def decision_record(decision_id: str, channel: str) -> dict[str, Any]:
    return {
        "schema": "decision-log/v1",
        "decision_id": decision_id,
        "customer_id": KNOWN,
        "outcome": "no_action",
        "trigger": {"event_id": "e1", "type": "page_view", "channel": channel},
        "decided_at": DECIDED,
        "policy_version": "v1",
        "winner": None,
        "candidates": [
            {
                "action_id": "offer.a",
                "score": None,
                "excluded": {"code": "no_consent", "detail": "no marketing consent on web"},
            }
        ],
        "suppressions": [],
        "notes": [],
        "timings": {"received_at": None, "event_to_decision_ms": None, "decide_us": 80.0},
    }


def upstream(seen: list[str]) -> Starlette:
    """Answers like the decision service: KNOWN has one decision, on the web."""

    async def timeline(request: Request) -> Response:
        seen.append(f"{request.url.path}?{request.url.query}")
        if request.path_params["customer_id"] != KNOWN:
            body = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "who?"}
            return Response(orjson.dumps(body), status_code=404, media_type=PROBLEM)
        entry = {
            "at": DECIDED,
            "kind": "decision",
            "event": None,
            "decision": decision_record("dec-1", "web"),
            "suppression": None,
            "decision_id": None,
        }
        body = {"customer_id": KNOWN, "entries": [entry], "total": 1, "next_offset": None}
        return JSONResponse(body)

    async def suppressions(request: Request) -> Response:
        seen.append(request.url.path)
        now = datetime.now(UTC).isoformat()
        return JSONResponse({"customer_id": KNOWN, "suppressions": [], "as_of": now})

    async def decision(request: Request) -> Response:
        seen.append(f"{request.url.path}?{request.url.query}")
        decision_id = request.path_params["decision_id"]
        if decision_id == "dec-1":
            return JSONResponse(decision_record(decision_id, "web"))
        return JSONResponse({"error": "unknown_decision"}, status_code=404)  # not a problem yet

    return Starlette(
        routes=[
            Route("/v1/customers/{customer_id:path}/timeline", timeline),
            Route("/v1/customers/{customer_id:path}/suppressions", suppressions),
            Route("/v1/decisions/{decision_id}", decision),
        ]
    )


@pytest.fixture
async def proxied(
    gateway_settings: SettingsFactory,
) -> AsyncIterator[tuple[RunningGateway, list[str]]]:
    seen: list[str] = []
    async with (
        serve(upstream(seen)) as url,
        running_gateway(gateway_settings(decision_url=url)) as gateway,
    ):
        yield gateway, seen


async def test_the_timeline_is_passed_on_with_its_paging(
    proxied: tuple[RunningGateway, list[str]],
) -> None:
    gateway, seen = proxied
    answer = await gateway.client.get(
        f"/v1/customers/{KNOWN}/timeline?limit=10&offset=0", headers=auth(READONLY_KEY)
    )
    assert answer.status_code == 200
    [entry] = answer.json()["entries"]
    assert entry["decision"]["candidates"][0]["excluded"]["code"] == "no_consent"
    assert seen[-1] == f"/v1/customers/{KNOWN}/timeline?limit=10&offset=0"
    bad = await gateway.client.get(
        f"/v1/customers/{KNOWN}/timeline?limit=0", headers=auth(READONLY_KEY)
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM
    assert bad.json()["status"] == 422
    assert "limit" in bad.json()["detail"]
    unknown = await gateway.client.get("/v1/customers/who/timeline", headers=auth(READONLY_KEY))
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == PROBLEM


async def test_a_channel_key_asks_for_its_own_channels_timeline_only(
    proxied: tuple[RunningGateway, list[str]],
) -> None:
    """A phone key must not read the web's decisions through the timeline, as it
    cannot through GET /v1/decisions/{id}: the gateway names its channel."""
    gateway, seen = proxied
    answer = await gateway.client.get(f"/v1/customers/{KNOWN}/timeline", headers=auth(PHONE_KEY))
    assert answer.status_code == 200
    assert seen[-1] == f"/v1/customers/{KNOWN}/timeline?limit=50&offset=0&channel=phone"


async def test_suppressions_in_force_need_the_context_scope(
    proxied: tuple[RunningGateway, list[str]],
) -> None:
    gateway, _ = proxied
    path = f"/v1/customers/{KNOWN}/suppressions"
    answer = await gateway.client.get(path, headers=auth(READONLY_KEY))
    assert answer.status_code == 200
    assert answer.json()["suppressions"] == []
    refused = await gateway.client.get(path)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["title"] == "Unauthorized"


async def test_a_decision_is_shown_to_its_channel_and_operators_only(
    proxied: tuple[RunningGateway, list[str]],
) -> None:
    gateway, seen = proxied
    path = "/v1/decisions/dec-1"
    web = await gateway.client.get(path, params={"customer_id": KNOWN}, headers=auth(WEB_KEY))
    assert web.status_code == 200
    assert web.json()["decision_id"] == "dec-1"
    assert seen[-1] == f"/v1/decisions/dec-1?customer_id={KNOWN}"
    operator = await gateway.client.get(
        path, params={"customer_id": KNOWN}, headers=auth(OPERATOR_KEY)
    )
    assert operator.status_code == 200
    phone = await gateway.client.get(path, params={"customer_id": KNOWN}, headers=auth(PHONE_KEY))
    assert phone.status_code == 403
    assert phone.headers["content-type"] == PROBLEM
    no_scope = await gateway.client.get(
        path, params={"customer_id": KNOWN}, headers=auth(READONLY_KEY)
    )
    assert no_scope.status_code == 403
    no_customer = await gateway.client.get(path, headers=auth(OPERATOR_KEY))
    assert no_customer.status_code == 422
    assert no_customer.headers["content-type"] == PROBLEM
    odd = await gateway.client.get(
        "/v1/decisions/dec-1%3Fcustomer_id=other",
        params={"customer_id": KNOWN},
        headers=auth(OPERATOR_KEY),
    )
    assert odd.status_code == 404  # one opaque id upstream, not a second parameter
    assert seen[-1] == f"/v1/decisions/dec-1%3Fcustomer_id=other?customer_id={KNOWN}"
    # The upstream's own refusal, not a problem document, becomes one.
    missing = await gateway.client.get(
        "/v1/decisions/dec-2", params={"customer_id": KNOWN}, headers=auth(OPERATOR_KEY)
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["detail"] == "unknown_decision"


async def test_an_unknown_path_is_a_problem_too(gateway: RunningGateway) -> None:
    answer = await gateway.client.get("/v1/nothing-here", headers=auth(OPERATOR_KEY))
    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["status"] == 404


async def test_the_openapi_document_types_every_new_answer(gateway: RunningGateway) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    paths = document["paths"]
    for path, schema in [
        ("/v1/customers/{customer_id}/timeline", "Timeline"),
        ("/v1/customers/{customer_id}/suppressions", "SuppressionsNow"),
        ("/v1/decisions/{decision_id}", "DecisionLogRecord"),
    ]:
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{schema}"}
    assert "/v1/suppressions/stream" in paths
    problem = document["components"]["schemas"]["Problem"]["properties"]
    assert {"type", "title", "status", "detail"} <= set(problem)


def suppression(customer_id: str, channels: list[str]) -> bytes:
    now = datetime.now(UTC)
    return to_json_bytes(
        SuppressionEvent.model_validate(
            {
                "suppression_id": f"sup-{customer_id}",
                "customer_id": customer_id,
                "state": "active",
                "reason": "consent_withdrawn",
                "detail": "marketing consent withdrawn",
                "scope": {"channels": channels, "kinds": ["offer"]},
                "trigger": {"event_id": "e1", "type": "consent_updated", "channel": "web"},
                "effective_at": now,
                "until": None,
            }
        )
    )


async def test_the_suppressions_that_concern_a_channel_stream_live(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    headers = auth(WEB_KEY)
    url = "/v1/suppressions/stream?channel=web"
    async with gateway.client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        reader = SseReader(response)
        assert (await reader.next_event()).event is None  # the opening position
        producer = create_producer(provisioned, client_id="test-suppressions")
        await producer.start()
        try:
            # One key, so one partition, in this order: the phone one would come first.
            for customer, channels in [("c-phone", ["phone"]), ("c-all", []), ("c-web", ["web"])]:
                value = suppression(customer, channels)
                await producer.send_and_wait(gateway.names.suppressions, value, key=b"one")
        finally:
            await producer.stop()
        received = [await reader.next_event() for _ in range(2)]
    assert [event.event for event in received] == ["suppression", "suppression"]
    customers = [orjson.loads(event.data or "")["customer_id"] for event in received]
    assert customers == ["c-all", "c-web"]
    refused = await gateway.client.get(
        "/v1/suppressions/stream?channel=web", headers=auth(PHONE_KEY)
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
