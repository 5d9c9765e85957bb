"""`make run`: the whole system, with simulated customers, watched live.

Starts Kafka (when local) and every service as its own process, publishes
simulator journeys, and shows events going in and actions and suppressions
coming out with their reasons and latency. Ctrl-C (or the end of
``--duration``) stops the simulator, every service and the broker it started.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from libs.common.kafka import create_consumer
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from services.simulator.journeys import events_at_rate
from services.simulator.publisher import Tally, publish_run

SHOWN_ROWS = 14


@dataclass(frozen=True)
class Output:
    """One action or suppression as the demo shows it."""

    channel: str
    customer_id: str
    what: str
    why: str
    latency_ms: float | None


def describe(topic: str, body: dict[str, Any], latency_ms: float | None) -> Output:
    if body.get("schema") == "action/v1":
        action = body["action"]
        reasons = [r["detail"] for r in body.get("reasons", []) if r.get("code") != "score"]
        return Output(
            body["channel"],
            body["customer_id"],
            f"{action['kind']}: {action['id']}",
            "; ".join(reasons[:2]),
            latency_ms,
        )
    if body.get("schema") == "suppression/v1":
        scope = ",".join(body["scope"]["channels"]) or "all"
        return Output(
            scope,
            body["customer_id"],
            f"suppress {body['state']}: {body['reason']}",
            body["detail"],
            latency_ms,
        )
    error = body.get("error", {})
    return Output(
        body.get("source", {}).get("topic", topic),
        "-",
        f"dead letter: {error.get('code')}",
        error.get("message", ""),
        None,
    )


@dataclass
class DemoState:
    tally: Tally = field(default_factory=Tally)
    intended: dict[str, float] = field(default_factory=dict)
    recent: deque[Output] = field(default_factory=lambda: deque(maxlen=SHOWN_ROWS))
    actions: Counter[str] = field(default_factory=Counter)
    suppressions: Counter[str] = field(default_factory=Counter)
    dead_letters: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def record(self, topic: str, body: dict[str, Any], arrived: float) -> Output:
        trigger = body.get("trigger") or {}
        sent = self.intended.get(trigger.get("event_id", ""))
        latency = None if sent is None else (arrived - sent) * 1000
        if latency is not None:
            self.latencies_ms.append(latency)
        output = describe(topic, body, latency)
        if body.get("schema") == "action/v1":
            self.actions[body["action"]["kind"]] += 1
        elif body.get("schema") == "suppression/v1":
            self.suppressions[f"{body['reason']} {body['state']}"] += 1
        else:
            self.dead_letters += 1
        self.recent.append(output)
        return output

    def percentile(self, fraction: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> str:
        p50, p99 = self.percentile(0.5), self.percentile(0.99)
        latency = "n/a" if p50 is None or p99 is None else f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"
        return (
            f"events sent {self.tally.sent} | actions {sum(self.actions.values())} "
            f"{dict(self.actions)} | suppressions {sum(self.suppressions.values())} "
            f"{dict(self.suppressions)} | dead letters {self.dead_letters} | "
            f"event -> decision {latency}"
        )


def render(state: DemoState) -> Group:
    table = Table(expand=True, show_lines=False)
    table.add_column("channel", width=8)
    table.add_column("customer", width=16, overflow="ellipsis")
    table.add_column("decision", width=42, overflow="ellipsis")
    table.add_column("why", ratio=1, overflow="ellipsis")
    table.add_column("ms", justify="right", width=6)
    for output in reversed(state.recent):
        table.add_row(
            output.channel,
            output.customer_id,
            output.what,
            output.why,
            "" if output.latency_ms is None else f"{output.latency_ms:.0f}",
        )
    return Group(Panel(state.summary(), title="Concierge live"), table)


def paced_events(
    state: DemoState, customers: int, seed: int, rate: float, duration: float
) -> Iterator[tuple[float, str, dict[str, Any]]]:
    """The simulator's schedule, remembering when each event is meant to go out."""
    started = time.time()
    for offset, channel, event in events_at_rate(customers, seed, rate, duration):
        state.intended[event["event_id"]] = started + offset
        yield offset, channel, event


async def watch(
    settings: CommonSettings,
    state: DemoState,
    console: Console,
    live: bool,
    stop: asyncio.Event,
    positioned: asyncio.Event,
) -> None:
    names = TopicNames(settings.topic_prefix)
    topics = [names.actions(c) for c in CHANNELS] + [names.suppressions, names.dlq]
    consumer = create_consumer(
        settings, *topics, client_id="concierge-demo", group_id=None, auto_offset_reset="latest"
    )
    await consumer.start()
    try:
        # Resolve "latest" to real offsets before traffic starts, so nothing is missed.
        for partition in consumer.assignment():
            await consumer.position(partition)
        positioned.set()
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=250)
            arrived = time.time()
            for partition, records in batches.items():
                for record in records:
                    if not record.value:
                        continue
                    output = state.record(partition.topic, orjson.loads(record.value), arrived)
                    if not live:
                        latency = (
                            "" if output.latency_ms is None else f" {output.latency_ms:.0f} ms"
                        )
                        console.print(
                            f"{output.channel:<7} {output.customer_id:<20} "
                            f"{output.what} | {output.why}{latency}",
                            highlight=False,
                            soft_wrap=True,
                        )
    finally:
        await consumer.stop()


async def settle(state: DemoState, quiet_seconds: float, deadline_seconds: float) -> None:
    """Wait for the last decisions: until nothing new arrived for a while, or a deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_seconds
    seen, quiet_since = len(state.latencies_ms), loop.time()
    while loop.time() < deadline and loop.time() - quiet_since < quiet_seconds:
        await asyncio.sleep(0.1)
        if len(state.latencies_ms) != seen:
            seen, quiet_since = len(state.latencies_ms), loop.time()


async def run_demo(
    settings: CommonSettings,
    console: Console,
    *,
    customers: int,
    seed: int,
    rate: float,
    duration: float,
) -> DemoState:
    state = DemoState()
    stop = asyncio.Event()
    live = console.is_terminal
    positioned = asyncio.Event()
    watcher = asyncio.create_task(watch(settings, state, console, live, stop, positioned))
    await asyncio.wait_for(positioned.wait(), timeout=30)
    publisher = asyncio.create_task(
        publish_run(
            settings, paced_events(state, customers, seed, rate, duration), tally=state.tally
        )
    )
    try:
        if live:
            with Live(render(state), console=console, refresh_per_second=4) as view:
                while not publisher.done():
                    view.update(render(state))
                    await asyncio.sleep(0.25)
                view.update(render(state))
        await publisher
        await settle(state, quiet_seconds=2.0, deadline_seconds=15.0)
    finally:
        publisher.cancel()
        stop.set()
        await asyncio.gather(watcher, return_exceptions=True)
    return state
