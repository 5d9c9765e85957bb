"""The gateway as a service: health, readiness, metrics, OpenAPI."""

from __future__ import annotations

import re

import orjson
import pytest

from libs.contract.examples import example_interaction
from tests.integration.gateway.support import WEB_KEY, RunningGateway, auth
from tests.support.kafka_io import wait_for

pytestmark = pytest.mark.integration


async def test_health_and_readiness_with_the_broker_up(gateway: RunningGateway) -> None:
    health = await gateway.client.get("/health")
    assert health.status_code == 200
    assert health.json()["service"] == "gateway"
    ready = await gateway.client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"broker": True}


async def test_metrics_count_requests_by_route_template_and_events_by_code(
    gateway: RunningGateway,
) -> None:
    good = example_interaction("page_view", event_id="evt-m1")
    bad = example_interaction("page_view", event_id="evt-m2")
    bad["type"] = "nope"
    answer = await gateway.client.post(
        "/v1/events",
        content=orjson.dumps([good, bad]),
        headers={"Content-Type": "application/json", **auth(WEB_KEY)},
    )
    assert answer.status_code == 202
    await gateway.client.get("/v1/customers/cust-secret-1/context", headers=auth(WEB_KEY))
    await gateway.client.get("/nowhere")

    metrics = (await gateway.client.get("/metrics")).text

    def value(pattern: str) -> float:
        match = re.search("^" + pattern + r" (\S+)$", metrics, re.MULTILINE)
        assert match is not None, pattern
        return float(match[1])

    assert (
        value(
            r'concierge_gateway_requests_total\{method="POST",route="/v1/events",'
            r'status="202"\}'
        )
        == 1
    )
    assert value(r'concierge_gateway_events_total\{code="",outcome="accepted"\}') == 1
    assert value(r'concierge_gateway_events_total\{code="unknown_type",outcome="rejected"\}') == 1
    assert (
        value(
            r'concierge_gateway_request_seconds_count\{method="POST",'
            r'route="/v1/events"\}'
        )
        == 1
    )
    assert (
        value(
            r'concierge_gateway_requests_total\{method="GET",route="unmatched",'
            r'status="404"\}'
        )
        == 1
    )
    # Route templates, not URLs: customer ids never become label values.
    assert (
        value(
            r'concierge_gateway_requests_total\{method="GET",'
            r'route="/v1/customers/\{customer_id\}/context",status="503"\}'
        )
        == 1
    )
    assert "cust-secret-1" not in metrics


async def test_the_gateway_samples_how_late_its_event_loop_serves(
    gateway: RunningGateway,
) -> None:
    async def samples() -> float:
        metrics = (await gateway.client.get("/metrics")).text
        match = re.search(r"^concierge_event_loop_delay_seconds_count (\S+)$", metrics, re.M)
        return 0.0 if match is None else float(match[1])

    # Ten samples a second from start-up; an absent series would never count.
    assert await wait_for(samples, timeout=30, what="event loop samples") >= 1


async def test_the_openapi_document_describes_the_api(gateway: RunningGateway) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    assert {
        "/v1/events",
        "/v1/actions/stream",
        "/v1/customers/{customer_id}/context",
        "/v1/customers/{customer_id}/next-best-action",
    } <= set(document["paths"])
    assert "ApiKey" in document["components"]["securitySchemes"]
    events = document["paths"]["/v1/events"]["post"]
    assert {"202", "401", "403", "413", "415", "422", "503"} <= set(events["responses"])
    docs = await gateway.client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
