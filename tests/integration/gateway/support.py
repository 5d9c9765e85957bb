"""Serving apps over real HTTP in-process, reading SSE, and polling Kafka."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from aiokafka import ConsumerRecord, TopicPartition
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from libs.common.kafka import create_consumer
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from libs.contract.action import ActionEvent
from libs.contract.codec import to_json_bytes
from services.gateway.app import create_app
from services.gateway.server import uvicorn_config
from services.gateway.settings import GatewaySettings
from tests.support.kafka_io import wait_for

WEB_KEY = "web-key-0123456789abcdef"
PHONE_KEY = "phone-key-0123456789abcdef"
OPERATOR_KEY = "operator-key-0123456789abcdef"
READONLY_KEY = "readonly-key-0123456789abcdef"
ALL_SCOPES = ["events:write", "context:read", "decision:read", "actions:read"]
API_KEYS: dict[str, dict[str, Any]] = {
    WEB_KEY: {"channel": "web", "scopes": ALL_SCOPES},
    PHONE_KEY: {"channel": "phone", "scopes": ALL_SCOPES},
    OPERATOR_KEY: {"channel": None, "scopes": ALL_SCOPES},
    READONLY_KEY: {"channel": None, "scopes": ["context:read"]},
}
# The one customer the stand-in for the decision service knows, and one it fails on.
KNOWN = "cust-42"
BROKEN = "cust-500"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(
    condition: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.05
) -> Any:
    """``wait_for`` with the gateway tests' shorter deadline and poll interval."""
    return await wait_for(condition, timeout, interval=interval)


async def start_server(
    app: ASGIApp, config: uvicorn.Config | None = None
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Start `app` with uvicorn (or `config`, on port 0) on a free loopback port:
    the server, its task, its URL."""
    if config is None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until(lambda: server.started or task.done(), timeout=30)
    if task.done():
        task.result()
        raise AssertionError("the server stopped during start-up")
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


@asynccontextmanager
async def serve(app: ASGIApp, config: uvicorn.Config | None = None) -> AsyncIterator[str]:
    """Run `app` for the duration of the block; yields its base URL."""
    server, task, url = await start_server(app, config)
    try:
        yield url
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)


def upstream(seen: list[dict[str, Any]]) -> Starlette:
    """Answers like the context and decision services: 200 for KNOWN, 404 otherwise
    (and a crash, 500 in plain text, for BROKEN)."""

    async def answer(request: Request) -> Response:
        customer_id = request.path_params["customer_id"]
        seen.append(
            {
                "raw_path": request.scope["raw_path"],
                "query": dict(request.query_params),
                "customer_id": customer_id,
            }
        )
        if customer_id == BROKEN:
            return PlainTextResponse("Internal Server Error", status_code=500)
        if customer_id != KNOWN:
            return JSONResponse({"error": "unknown_customer"}, status_code=404)
        if request.url.path.endswith("/context"):
            return JSONResponse({"customer_id": customer_id, "open_complaints": 1})
        return JSONResponse(
            {
                "customer_id": customer_id,
                "channel": request.query_params["channel"],
                "action": {"id": "route-priority-billing"},
            }
        )

    async def timeline(request: Request) -> Response:
        customer_id = request.path_params["customer_id"]
        if customer_id != KNOWN:
            return JSONResponse({"error": "unknown_customer"}, status_code=404)
        return JSONResponse(
            {"customer_id": customer_id, "entries": [], "total": 0, "next_offset": None}
        )

    async def suppressions(request: Request) -> Response:
        # The decision service knows every customer's set in force: empty for a stranger.
        as_of = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        customer_id = request.path_params["customer_id"]
        return JSONResponse({"customer_id": customer_id, "suppressions": [], "as_of": as_of})

    async def decision(request: Request) -> Response:
        return JSONResponse({"error": "unknown_decision"}, status_code=404)

    async def policy(request: Request) -> Response:
        return JSONResponse({"policy_version": "stand-in"})

    return Starlette(
        routes=[
            Route("/v1/customers/{customer_id:path}/context", answer),
            Route("/v1/customers/{customer_id:path}/next-best-action", answer),
            Route("/v1/customers/{customer_id:path}/timeline", timeline),
            Route("/v1/customers/{customer_id:path}/suppressions", suppressions),
            Route("/v1/decisions/{decision_id:path}", decision),
            Route("/v1/policy", policy),
        ]
    )


@dataclass
class RunningGateway:
    url: str
    settings: GatewaySettings
    names: TopicNames
    client: httpx.AsyncClient


@asynccontextmanager
async def running_gateway(
    settings: GatewaySettings, *, production_server: bool = False
) -> AsyncIterator[RunningGateway]:
    """With `production_server`, served as `python -m services.gateway` serves it
    (its timeouts and connection cap); else with uvicorn's defaults."""
    app = create_app(settings)
    config = uvicorn_config(app, settings, host="127.0.0.1") if production_server else None
    async with (
        serve(app, config) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield RunningGateway(url, settings, TopicNames(settings.common.topic_prefix), client)


async def consume(
    settings: CommonSettings, topic: str, count: int, *, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first `count` records of `topic` (all partitions, from the beginning)."""
    consumer = create_consumer(
        settings, topic, client_id="test-gateway-check", group_id=f"test-{uuid.uuid4().hex}"
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:

        async def enough() -> bool:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            return len(records) >= count

        await until(enough, timeout=timeout, interval=0)
    finally:
        await consumer.stop()
    return records


async def end_offsets(settings: CommonSettings, topic: str, partitions: int) -> int:
    """Records in `topic` so far (sum of end offsets)."""
    consumer = create_consumer(settings, client_id="test-gateway-count", group_id=None)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return sum(ends.values())
    finally:
        await consumer.stop()


def action(decision_id: str, customer_id: str, channel: str = "web") -> bytes:
    decided = datetime.now(UTC)
    return to_json_bytes(
        ActionEvent.model_validate(
            {
                "decision_id": decision_id,
                "customer_id": customer_id,
                "channel": channel,
                "action": {
                    "id": "route-priority-billing",
                    "kind": "routing",
                    "category": "billing",
                    "payload": {"queue": "billing-priority"},
                },
                "score": 0.87,
                "reasons": [{"code": "frustration", "detail": "Abandoned a billing call"}],
                "trigger": {
                    "event_id": f"evt-{decision_id}",
                    "type": "call_abandoned",
                    "channel": channel,
                },
                "decided_at": decided,
                "expires_at": decided + timedelta(minutes=30),
                "policy_version": "test",
            }
        )
    )


@dataclass
class SseEvent:
    id: str | None = None
    event: str | None = None
    data: str | None = None


@dataclass
class SseReader:
    """Reads an open text/event-stream response event by event; counts comments."""

    response: httpx.Response
    comments: list[str] = field(default_factory=list)
    _lines: AsyncIterator[str] | None = None

    def _stream(self) -> AsyncIterator[str]:
        if self._lines is None:
            self._lines = self.response.aiter_lines()
        return self._lines

    async def next_comment(self, *, timeout: float = 20.0) -> str:
        """The next comment line (a heartbeat); fails if an event comes first."""
        async with asyncio.timeout(timeout):
            async for line in self._stream():
                if line.startswith(":"):
                    return line
                assert not line, f"expected a comment, got {line!r}"
        raise AssertionError("the stream ended")

    async def next_event(self, *, timeout: float = 20.0) -> SseEvent:
        current = SseEvent()
        async with asyncio.timeout(timeout):
            async for line in self._stream():
                if not line:
                    if current != SseEvent():
                        return current
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    current.data = value if current.data is None else f"{current.data}\n{value}"
                elif name in ("id", "event"):
                    setattr(current, name, value)
        raise AssertionError("the stream ended")

    async def next_action(self, *, timeout: float = 20.0) -> SseEvent:
        """The next `event: action`, skipping id-only position events."""
        while True:
            event = await self.next_event(timeout=timeout)
            if event.event == "action":
                return event
