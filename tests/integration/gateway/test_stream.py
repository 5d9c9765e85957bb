"""GET /v1/actions/stream: actions from Kafka as Server-Sent Events, resumable."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
import pytest

from libs.common.kafka import create_producer
from libs.common.settings import CommonSettings
from services.gateway.app import create_app
from tests.integration.gateway.conftest import SettingsFactory
from tests.integration.gateway.support import (
    OPERATOR_KEY,
    PHONE_KEY,
    READONLY_KEY,
    WEB_KEY,
    RunningGateway,
    SseReader,
    action,
    auth,
    running_gateway,
    start_server,
    until,
)

pytestmark = pytest.mark.integration


@asynccontextmanager
async def stream(
    gateway: RunningGateway, key: str, query: str = "channel=web", last_event_id: str | None = None
) -> AsyncIterator[SseReader]:
    headers = auth(key)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with gateway.client.stream("GET", f"/v1/actions/stream?{query}", headers=headers) as r:
        assert r.status_code == 200, (await r.aread()).decode()
        assert r.headers["content-type"].startswith("text/event-stream")
        yield SseReader(r)


async def produce_actions(
    settings: CommonSettings, topic: str, actions: list[tuple[str, str]]
) -> None:
    """(decision_id, customer_id) pairs, keyed by customer as Concierge writes them."""
    producer = create_producer(settings, client_id="test-actions")
    await producer.start()
    try:
        for decision_id, customer_id in actions:
            await producer.send(topic, action(decision_id, customer_id), key=customer_id.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def open_streams(gateway: RunningGateway) -> float:
    metrics = (await gateway.client.get("/metrics")).text
    match = re.search(r"^concierge_gateway_streams_open (\S+)$", metrics, re.MULTILINE)
    assert match is not None
    return float(match[1])


async def test_actions_for_the_channel_arrive_on_the_stream(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    topic = gateway.names.actions("web")
    await produce_actions(provisioned, topic, [("old", "cust-0")])  # before: not replayed
    async with stream(gateway, WEB_KEY) as reader:
        opened = await reader.next_event()
        assert opened.event is None
        assert opened.data is None
        assert re.fullmatch(r"p0:\d+,p1:\d+", opened.id or "")
        sent = [(f"dec-{n}", f"cust-{n % 3}") for n in range(6)]
        await produce_actions(provisioned, topic, sent)
        received = [await reader.next_action() for _ in sent]
    decisions = [orjson.loads(event.data or "")["decision_id"] for event in received]
    assert sorted(decisions) == sorted(decision for decision, _ in sent)
    for event in received:
        assert event.event == "action"
        assert orjson.loads(event.data or "")["schema"] == "action/v1"
        assert re.fullmatch(r"p0:\d+,p1:\d+", event.id or "")
    await until(lambda: _zero(gateway))


async def _zero(gateway: RunningGateway) -> bool:
    return await open_streams(gateway) == 0


async def test_a_phone_key_may_not_read_web_actions(gateway: RunningGateway) -> None:
    refused = await gateway.client.get("/v1/actions/stream?channel=web", headers=auth(PHONE_KEY))
    assert refused.status_code == 403
    assert "phone" in refused.json()["detail"]
    no_scope = await gateway.client.get(
        "/v1/actions/stream?channel=web", headers=auth(READONLY_KEY)
    )
    assert no_scope.status_code == 403
    anonymous = await gateway.client.get("/v1/actions/stream?channel=web")
    assert anonymous.status_code == 401
    async with stream(gateway, PHONE_KEY, "channel=phone") as reader:
        assert (await reader.next_event()).id is not None
    async with stream(gateway, OPERATOR_KEY, "channel=web") as reader:
        assert (await reader.next_event()).id is not None


async def test_a_reconnect_with_last_event_id_resumes_without_loss_or_repeats(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    topic = gateway.names.actions("web")
    first = [(f"a-{n}", f"cust-{n % 4}") for n in range(8)]
    second = [(f"b-{n}", f"cust-{n % 4}") for n in range(5)]
    async with stream(gateway, WEB_KEY) as reader:
        await reader.next_event()
        await produce_actions(provisioned, topic, first)
        seen = [await reader.next_action() for _ in range(3)]
    last_id = seen[-1].id
    assert last_id is not None
    # Written while nobody listens: the resumed stream must deliver these too.
    await produce_actions(provisioned, topic, second)
    async with stream(gateway, WEB_KEY, last_event_id=last_id) as reader:
        resumed = [await reader.next_action() for _ in range(len(first) + len(second) - 3)]
    delivered = [orjson.loads(event.data or "")["decision_id"] for event in seen + resumed]
    assert len(delivered) == len(set(delivered)), "repeats"
    assert sorted(delivered) == sorted(decision for decision, _ in first + second)


async def test_a_reconnect_before_any_action_resumes_from_where_the_stream_opened(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    topic = gateway.names.actions("web")
    async with stream(gateway, WEB_KEY) as reader:
        opened = (await reader.next_event()).id
    await produce_actions(provisioned, topic, [("while-away", "cust-1")])
    async with stream(gateway, WEB_KEY, last_event_id=opened) as reader:
        event = await reader.next_action()
    assert orjson.loads(event.data or "")["decision_id"] == "while-away"


async def test_the_customer_filter_passes_only_that_customers_actions(
    gateway: RunningGateway, provisioned: CommonSettings
) -> None:
    topic = gateway.names.actions("web")
    async with stream(gateway, WEB_KEY, "channel=web&customer_id=cust-7") as reader:
        await reader.next_event()
        await produce_actions(
            provisioned,
            topic,
            [("x-1", "cust-1"), ("x-2", "cust-7"), ("x-3", "cust-2"), ("x-4", "cust-7")],
        )
        received = [await reader.next_action() for _ in range(2)]
    decisions = sorted(orjson.loads(event.data or "")["decision_id"] for event in received)
    assert decisions == ["x-2", "x-4"]


async def test_malformed_or_foreign_resume_tokens_are_400(gateway: RunningGateway) -> None:
    for token in ("garbage", "p0:1,p0:2", "p9:0", "p0:999999"):
        answer = await gateway.client.get(
            "/v1/actions/stream?channel=web", headers={**auth(WEB_KEY), "Last-Event-ID": token}
        )
        assert answer.status_code == 400, token
    assert await open_streams(gateway) == 0


async def test_heartbeats_keep_an_idle_stream_alive_and_disconnects_free_the_consumer(
    gateway_settings: SettingsFactory,
) -> None:
    async with running_gateway(gateway_settings(sse_heartbeat_seconds=0.2)) as gateway:
        async with stream(gateway, WEB_KEY) as reader:
            await reader.next_event()
            assert await open_streams(gateway) == 1
            assert (await reader.next_comment(timeout=5)).startswith(": ping")
            assert (await reader.next_comment(timeout=5)).startswith(": ping")
        await until(lambda: _zero(gateway))


async def test_too_many_streams_are_refused_with_503(gateway_settings: SettingsFactory) -> None:
    async with (
        running_gateway(gateway_settings(max_streams=1)) as gateway,
        stream(gateway, WEB_KEY) as reader,
    ):
        await reader.next_event()
        answer = await gateway.client.get("/v1/actions/stream?channel=web", headers=auth(WEB_KEY))
        assert answer.status_code == 503


async def test_an_unknown_channel_is_refused(gateway: RunningGateway) -> None:
    answer = await gateway.client.get("/v1/actions/stream?channel=tv", headers=auth(OPERATOR_KEY))
    assert answer.status_code == 422
    missing = await gateway.client.get("/v1/actions/stream", headers=auth(OPERATOR_KEY))
    assert missing.status_code == 422


async def test_a_server_shutdown_ends_open_streams_cleanly(
    gateway_settings: SettingsFactory,
) -> None:
    server, task, url = await start_server(create_app(gateway_settings()))
    try:
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as client,
            client.stream("GET", "/v1/actions/stream?channel=web", headers=auth(WEB_KEY)) as r,
        ):
            reader = SseReader(r)
            await reader.next_event()
            server.should_exit = True
            # The body ends properly (no protocol error): clients reconnect and resume.
            with pytest.raises(AssertionError, match="the stream ended"):
                await reader.next_event(timeout=15)
    finally:
        server.should_exit = True
        await task
