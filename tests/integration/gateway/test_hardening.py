"""What a fuzzing run and a hostile client found (issue 17), over real HTTP and sockets."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from libs.contract.examples import example_interaction
from services.gateway.settings import GatewaySettings
from tests.integration.gateway.conftest import SettingsFactory
from tests.integration.gateway.support import (
    OPERATOR_KEY,
    PHONE_KEY,
    WEB_KEY,
    RunningGateway,
    auth,
    running_gateway,
    until,
)

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def event(**changes: Any) -> dict[str, Any]:
    record = example_interaction("page_view", event_id=f"evt-{uuid.uuid4().hex[:12]}")
    record.update(changes)
    return record


def request_head(method: str, path: str, key: str, content_length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode()


@asynccontextmanager
async def raw_connection(
    gateway: RunningGateway,
) -> AsyncIterator[Connection]:
    address = urlsplit(gateway.url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        yield reader, writer
    finally:
        writer.close()


async def requests_counted(gateway: RunningGateway, status: str) -> float:
    metrics = (await gateway.client.get("/metrics")).text
    pattern = (
        r'^concierge_gateway_requests_total\{method="POST",route="/v1/events",'
        rf'status="{status}"\}} (\S+)$'
    )
    match = re.search(pattern, metrics, re.MULTILINE)
    return float(match[1]) if match else 0.0


async def test_an_item_nested_a_thousand_levels_deep_is_refused_alone(
    gateway: RunningGateway,
) -> None:
    deep = b"[" * 1020 + b"]" * 1020
    body = b"[" + orjson.dumps(event()) + b"," + deep + b"," + orjson.dumps(event()) + b"]"
    answer = await gateway.client.post(
        "/v1/events", content=body, headers={**JSON, **auth(WEB_KEY)}
    )
    assert answer.status_code == 202, answer.text
    results = answer.json()["results"]
    assert [result["status"] for result in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["error"]["code"] == "schema_violation"


async def test_a_client_hanging_up_mid_upload_is_counted_499_and_logged_without_traceback(
    gateway_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # As in production: uvicorn's own loggers reach the root logger, so its
    # "Exception in ASGI application" would be seen here.
    async with (
        running_gateway(gateway_settings(), production_server=True) as gateway,
        raw_connection(gateway) as (_, writer),
    ):
        writer.write(request_head("POST", "/v1/events", WEB_KEY, 10_000) + b'[{"schema": ')
        await writer.drain()
        writer.close()
        await until(lambda: requests_counted(gateway, "499"))
        assert await requests_counted(gateway, "500") == 0
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert not [record for record in caplog.records if record.exc_info]


@asynccontextmanager
async def served_as_in_production(
    settings: GatewaySettings,
) -> AsyncIterator[tuple[RunningGateway, Connection, Connection]]:
    """The gateway with `python -m services.gateway`'s server settings, and two raw connections."""
    async with (
        running_gateway(settings, production_server=True) as gateway,
        raw_connection(gateway) as first,
        raw_connection(gateway) as second,
    ):
        yield gateway, first, second


async def test_slow_clients_are_cut_off_while_others_are_served(
    gateway_settings: SettingsFactory,
) -> None:
    settings = gateway_settings(header_timeout_seconds=1, body_timeout_seconds=1)
    async with served_as_in_production(settings) as (gateway, headers_conn, body_conn):
        (slow_headers, headers_writer), (slow_body, body_writer) = headers_conn, body_conn
        headers_writer.write(b"POST /v1/events HTTP/1.1\r\nHost: gateway\r\n")
        body_writer.write(request_head("POST", "/v1/events", WEB_KEY, 1000) + b"[")
        await asyncio.gather(headers_writer.drain(), body_writer.drain())

        served = await gateway.client.post(
            "/v1/events", content=orjson.dumps(event()), headers={**JSON, **auth(WEB_KEY)}
        )
        assert served.status_code == 202

        async with asyncio.timeout(20):
            # Closed without an answer: the request never started.
            assert await slow_headers.read() == b""
            answer = await slow_body.read()
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 408 Request Timeout"
        assert b"connection: close" in rest.lower()
        assert b"did not arrive within 1 s" in rest


async def test_slow_headers_on_a_kept_alive_connection_are_cut_off_too(
    gateway_settings: SettingsFactory,
) -> None:
    settings = gateway_settings(header_timeout_seconds=1, keep_alive_seconds=60)
    async with served_as_in_production(settings) as (_, (reader, writer), _unused):
        writer.write(b"GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
        await reader.readuntil(b"}")  # the end of the JSON body
        writer.write(b"GET /health HTTP/1.1\r\nHost: gateway\r\n")
        async with asyncio.timeout(20):
            assert await reader.read() == b""


async def test_beyond_the_connection_cap_requests_get_503_until_slow_ones_are_cut(
    gateway_settings: SettingsFactory,
) -> None:
    settings = gateway_settings(header_timeout_seconds=1, max_connections=2, max_streams=1)
    async with served_as_in_production(settings) as (gateway, first, second):
        for _, writer in (first, second):
            writer.write(b"GET /health HTTP/1.1\r\n")
            await writer.drain()
        await until(lambda: health_answers(gateway, b"503"))
        async with asyncio.timeout(20):
            assert await first[0].read() == b""
            assert await second[0].read() == b""
        await until(lambda: health_answers(gateway, b"200"))


async def health_answers(gateway: RunningGateway, status: bytes) -> bool:
    # A fresh connection each time: the client's pooled one would count too.
    async with raw_connection(gateway) as (reader, writer):
        writer.write(b"GET /health HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
        return (await reader.read()).startswith(b"HTTP/1.1 " + status)


async def test_one_key_cannot_take_every_stream_slot(gateway_settings: SettingsFactory) -> None:
    settings = gateway_settings(max_streams=3, max_streams_per_key=1)
    async with running_gateway(settings) as gateway:
        url = "/v1/actions/stream?channel=web"
        async with gateway.client.stream("GET", url, headers=auth(OPERATOR_KEY)) as first:
            assert first.status_code == 200
            second = await gateway.client.get(url, headers=auth(OPERATOR_KEY))
            assert second.status_code == 429
            assert int(second.headers["retry-after"]) > 0
            assert "streams open" in second.json()["detail"]
            async with gateway.client.stream("GET", url, headers=auth(WEB_KEY)) as other:
                assert other.status_code == 200

        # Closed streams give their key's slots back.
        async def reopened() -> bool:
            async with gateway.client.stream("GET", url, headers=auth(OPERATOR_KEY)) as again:
                return again.status_code == 200

        await until(reopened)


@pytest.mark.parametrize("customer_id", [".", "..", "cust-42\n", "cust\r\n42"])
async def test_customer_ids_that_cannot_be_queried_back_are_refused(
    gateway: RunningGateway, customer_id: str
) -> None:
    record = event(identity={"customer_id": customer_id})
    answer = await gateway.client.post(
        "/v1/events", content=orjson.dumps(record), headers={**JSON, **auth(WEB_KEY)}
    )
    assert answer.status_code == 422
    (result,) = answer.json()["results"]
    assert result["error"]["code"] == "schema_violation"
    assert result["error"]["path"] == "identity.customer_id"


async def test_a_key_named_twice_is_refused_with_its_path(gateway: RunningGateway) -> None:
    spoof = orjson.dumps(event(channel="phone"))[:-1] + b',"channel":"web"}'
    body = b"[" + orjson.dumps(event()) + b"," + spoof + b"]"
    answer = await gateway.client.post(
        "/v1/events", content=body, headers={**JSON, **auth(WEB_KEY)}
    )
    assert answer.status_code == 400
    assert answer.json()["path"] == "[1].channel"
    assert "twice" in answer.json()["detail"]
    # Not even the phone key, whose channel the first value names, gets it through.
    single = await gateway.client.post(
        "/v1/events", content=spoof, headers={**JSON, **auth(PHONE_KEY)}
    )
    assert single.status_code == 400
    assert single.json()["path"] == "channel"


@pytest.mark.parametrize("path", ["/v1/events/", "/v1/actions/stream/?channel=web"])
async def test_api_routes_are_not_redirected_and_host_never_makes_a_url(
    gateway: RunningGateway, path: str
) -> None:
    for key_headers in ({}, auth(OPERATOR_KEY)):
        answer = await gateway.client.request(
            "POST" if path.startswith("/v1/events") else "GET",
            path,
            content=orjson.dumps(event()),
            headers={**JSON, **key_headers, "Host": "evil.example"},
            follow_redirects=False,
        )
        assert answer.status_code == 404
        assert "location" not in answer.headers
        assert "evil.example" not in answer.text


def chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


async def events_accepted(gateway: RunningGateway) -> float:
    metrics = (await gateway.client.get("/metrics")).text
    found = re.findall(
        r'^concierge_gateway_events_total\{code="",outcome="accepted"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return sum(float(value) for value in found)


@pytest.mark.parametrize(
    "framing",
    [
        "Content-Length: {length}\r\nTransfer-Encoding: chunked\r\n",
        "transfer-encoding: chunked\r\ncontent-length: {length}\r\n",
    ],
)
async def test_a_request_with_two_body_lengths_is_refused_and_its_connection_closed(
    gateway_settings: SettingsFactory, framing: str
) -> None:
    body = chunked(orjson.dumps(event()))
    # What a proxy trusting Content-Length would pass on as a second request.
    smuggled = b"GET /health HTTP/1.1\r\nHost: gateway\r\n\r\n"
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {WEB_KEY}\r\n"
        f"Content-Type: application/json\r\n{framing.format(length=len(body))}\r\n"
    ).encode()
    async with served_as_in_production(gateway_settings()) as (gateway, ambiguous, plain):
        (reader, writer), (plain_reader, plain_writer) = ambiguous, plain
        writer.write(head + body + smuggled)
        async with asyncio.timeout(20):
            answer = await reader.read()  # then closed
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert b"both Content-Length and Transfer-Encoding" in answer
        assert answer.count(b"HTTP/1.1 ") == 1  # the smuggled request got no answer
        assert await events_accepted(gateway) == 0

        # Chunked alone is fine.
        plain_writer.write(
            head.replace(
                framing.format(length=len(body)).encode(), b"Transfer-Encoding: chunked\r\n"
            )
            + body
        )
        async with asyncio.timeout(20):
            status_line = await plain_reader.readuntil(b"\r\n")
        assert status_line == b"HTTP/1.1 202 Accepted\r\n"
        assert await events_accepted(gateway) == 1
