"""How fast the HTTP gateway ingests events, against two floors measured in the same run.

    .venv/bin/python -m bench.gateway_bench [--bootstrap 127.0.0.1:9092] [--json PATH]

Provisions its own topic set (a unique prefix, deleted afterwards unless
--keep-topics), starts the gateway in-process with uvicorn on a free loopback
port, and drives it over real HTTP with httpx: single events (one per
request) and batches of 100. Every request must come back 202 with every
event accepted (acknowledged by Kafka, acks=all): a run that is not is an
error, not a figure.

Baselines, same payloads, same concurrency, same process:
- `kafka`: the events produced directly with the shared idempotent aiokafka
  producer, awaiting each acknowledgement as the gateway does: the cost of
  Kafka alone;
- `noop`: an HTTP endpoint on the same uvicorn that reads the body and
  answers 202: the cost of HTTP alone.

Client and server share one process and one event loop, so absolute figures
are a lower bound for a dedicated gateway; the ratios are the point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.validation_bench import generate
from libs.common.kafka import create_admin, create_producer
from libs.common.logging import configure_logging
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames, all_topics
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

API_KEY = "bench-operator-key-0123456789abcdef"
JSON_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}


@dataclass(frozen=True)
class Payload:
    """One request's worth: the HTTP body and the same events as Kafka records."""

    body: bytes
    records: list[tuple[str, bytes, bytes | None]]  # topic, value, key


@dataclass(frozen=True)
class Figures:
    events: int
    requests: int
    seconds: float
    latencies: list[float]

    def as_dict(self) -> dict[str, float]:
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return {
            "events": self.events,
            "requests": self.requests,
            "events_per_s": self.events / self.seconds,
            "requests_per_s": self.requests / self.seconds,
            "p50_ms": cuts[49] * 1000,
            "p99_ms": cuts[98] * 1000,
        }


def payloads(count: int, batch_size: int, names: TopicNames, seed: int) -> list[Payload]:
    records = generate(count, seed)
    out = []
    for start in range(0, count, batch_size):
        chunk = records[start : start + batch_size]
        body = chunk[0][0] if batch_size == 1 else b"[" + b",".join(v for v, _ in chunk) + b"]"
        kafka = [(names.interactions(channel), value, _key_of(value)) for value, channel in chunk]
        out.append(Payload(body, kafka))
    return out


def _key_of(value: bytes) -> bytes | None:
    identity = json.loads(value)["identity"]
    for name in ("customer_id", "loyalty_id", "device_id", "anonymous_id"):
        if identity.get(name):
            return str(identity[name]).encode()
    return None


async def drive(
    work: Sequence[Payload], concurrency: int, send: Callable[[Payload], Awaitable[None]]
) -> Figures:
    """`concurrency` workers take payloads in turn; each request is timed."""
    queue = list(reversed(work))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            payload = queue.pop()
            started = time.perf_counter()
            await send(payload)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Figures(sum(len(p.records) for p in work), len(work), elapsed, latencies)


def http_sender(client: httpx.AsyncClient, path: str, check: bool) -> Any:
    async def send(payload: Payload) -> None:
        answer = await client.post(path, content=payload.body, headers=JSON_HEADERS)
        if answer.status_code != 202:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
        if check and answer.json()["accepted"] != len(payload.records):
            raise RuntimeError(f"{path}: not every event accepted: {answer.text[:300]}")

    return send


def kafka_sender(producer: AIOKafkaProducer) -> Any:
    async def send(payload: Payload) -> None:
        futures = [
            await producer.send(topic, value, key=key) for topic, value, key in payload.records
        ]
        await asyncio.gather(*futures)

    return send


async def noop(request: Request) -> Response:
    await request.body()
    return Response(b'{"accepted":true}', status_code=202, media_type="application/json")


async def serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not start within 30s")
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    common = CommonSettings(
        kafka_bootstrap_servers=args.bootstrap, topic_prefix=prefix, partitions=args.partitions
    )
    names = TopicNames(prefix)
    report = await provision(common)
    if not report.ok:
        raise RuntimeError(f"provisioning failed: {report}")
    settings = GatewaySettings(
        common=common,
        http_port=0,
        max_batch=500,
        api_keys={API_KEY: {"channel": None, "scopes": ["events:write"]}},
    )
    gateway_app = create_app(settings)
    gateway = await serve(gateway_app)
    noop_server = await serve(Starlette(routes=[Route("/noop", noop, methods=["POST"])]))
    producer = create_producer(common, client_id="concierge-bench-direct")
    await producer.start()
    figures: dict[str, Any] = {}
    try:
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=64)
        async with (
            httpx.AsyncClient(base_url=gateway[2], limits=limits, timeout=60) as to_gateway,
            httpx.AsyncClient(base_url=noop_server[2], limits=limits, timeout=60) as to_noop,
        ):
            senders = {
                "gateway": http_sender(to_gateway, "/v1/events", check=True),
                "noop": http_sender(to_noop, "/noop", check=False),
                "kafka": kafka_sender(producer),
            }
            for mode, batch_size, count in (
                ("single", 1, args.single_events),
                ("batch100", 100, args.batch_events),
            ):
                work = payloads(count, batch_size, names, args.seed)
                warm = payloads(min(count, 20 * batch_size), batch_size, names, args.seed + 1)
                for name, send in senders.items():
                    await drive(warm, args.concurrency, send)
                    best: Figures | None = None
                    for _ in range(args.repeats):
                        result = await drive(work, args.concurrency, send)
                        if best is None or result.seconds < best.seconds:
                            best = result
                    assert best is not None
                    figures[f"{mode}.{name}"] = best.as_dict()
                gateway_rate = figures[f"{mode}.gateway"]["events_per_s"]
                figures[f"{mode}.ratio_gateway_to_kafka"] = (
                    gateway_rate / figures[f"{mode}.kafka"]["events_per_s"]
                )
                figures[f"{mode}.ratio_gateway_to_noop"] = (
                    gateway_rate / figures[f"{mode}.noop"]["events_per_s"]
                )
    finally:
        await producer.stop()
        for server, task, _ in (noop_server, gateway):
            server.should_exit = True
            await task
        if not args.keep_topics:
            admin = create_admin(common, client_id="concierge-bench-cleanup")
            await admin.start()
            try:
                await admin.delete_topics([s.name for s in all_topics(names, args.partitions)])
            finally:
                await admin.close()
    figures.update(
        concurrency=args.concurrency,
        partitions=args.partitions,
        seed=args.seed,
        repeats=args.repeats,
        python=platform.python_version(),
        machine=platform.machine(),
        mean_event_bytes=statistics.fmean(len(v) for v, _ in generate(1000, args.seed)),
    )
    return figures


def render(figures: dict[str, Any]) -> str:
    lines = [
        f"concurrency {figures['concurrency']}, {figures['partitions']} partitions, "
        f"mean event {figures['mean_event_bytes']:.0f} bytes, best of {figures['repeats']}",
        f"{'':>17} {'events/s':>10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}",
    ]
    for mode in ("single", "batch100"):
        for name in ("gateway", "noop", "kafka"):
            row = figures[f"{mode}.{name}"]
            lines.append(
                f"{mode + ' ' + name:>17} {row['events_per_s']:>10,.0f} "
                f"{row['requests_per_s']:>9,.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}"
            )
        lines.append(
            f"{mode:>17} gateway = {figures[f'{mode}.ratio_gateway_to_kafka']:.2f}x direct Kafka, "
            f"{figures[f'{mode}.ratio_gateway_to_noop']:.2f}x HTTP no-op"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="gateway ingest throughput over real HTTP")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--single-events", type=int, default=3000)
    parser.add_argument("--batch-events", type=int, default=30_000)
    # Pure-Python HTTP on both ends (no uvloop/httptools installed) peaks at
    # about 4 connections; more only queue in the client.
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; best kept")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-topics", action="store_true")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    args = parser.parse_args(argv)
    configure_logging("WARNING", "console")
    figures = asyncio.run(run(args))
    print(render(figures))
    if args.json_path:
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        args.json_path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
