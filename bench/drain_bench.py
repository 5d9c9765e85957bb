"""How fast Concierge catches up on a backlog, against the bare relay chain on the same one.

    .venv/bin/python -m bench.drain_bench [--events 100000 | --quick]
                                          [--systems relay-chain,concierge]
                                          [--malformed 10000] [--decision-workers 2]
                                          [--customers 2000]

For each system (the e2e benchmark's, docs/benchmarks.md) on a running broker:
its own uniquely prefixed topics, the same simulator events already waiting on
``interactions.*`` before it starts (``occurred_at`` fresh, so intake takes
them), then the system started and every consumer group polled until it has
committed to the end of its input, upstream first. Prints, per hop, when it had
drained, the backlog's events per second to that point, and the CPU each
process used per event over the whole drain: for Concierge, per stage (intake:
validation and identity; decision: context and decision), against the same
two hops of the relay chain.

Where the e2e benchmark offers load live, this one has no small batches: every
fetch is full. A stage's CPU per event here is its cost with Kafka batching
working for it; the ratio to the relay chain is what Faust and Concierge's own
work cost on top of a bare Python hop.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.e2e.cpu import BROKER, CpuMeter, local_broker_pid, process_cpu_seconds, with_broker
from bench.e2e.lag import LagProbe
from bench.e2e.launch import delete_topics, provision_topics, start_system
from bench.e2e.payloads import step_plan
from bench.e2e.systems import CONCIERGE, RELAY_CHAIN, SystemPlan, plan_for
from libs.common.kafka import create_producer
from libs.common.settings import CommonSettings
from services.simulator.journeys import stamped

POLL_SECONDS = 0.25
# How long the broker's CPU is sampled before the system starts, with the bench's own
# lag polling running: what it spends per second whatever the drain does.
REST_SECONDS = 3.0
# Issue 13 asks for a backlog of at least 100,000 events; --quick for a smoke run.
DEFAULT_EVENTS = 100_000
QUICK_EVENTS = 8_000
# Whose journeys the backlog holds (as the e2e ladder's --customers): 100,000 events
# over 2,000 people is ~50 each, so the drain measures mature, full contexts.
DEFAULT_CUSTOMERS = 2_000
# Events per second of simulated time: only sets how the journeys interleave.
JOURNEY_RATE = 500.0


@dataclass(frozen=True)
class Drained:
    system: str
    events: int
    # Consumer group -> seconds from start until it had committed to its end.
    at: dict[str, float]
    # Process -> CPU seconds over the drain.
    cpu: dict[str, float]
    decision_workers: int = 1
    # Cores the local broker used at rest (the backlog loaded, the system not yet
    # started, the bench polling lags); ``cpu[BROKER]`` is what it used above that.
    broker_at_rest: float | None = None

    @property
    def label(self) -> str:
        """The system, and how many stage-2 processes when more than one."""
        if self.decision_workers == 1:
            return self.system
        return f"{self.system} ({self.decision_workers} decision workers)"

    @property
    def seconds(self) -> float:
        return max(self.at.values())

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def cpu_us_per_event(self, process: str) -> float:
        return 1e6 * self.cpu[process] / self.events


# Ways a channel system gets a record wrong, each a dead letter with its own code.
SPOILERS: tuple[Callable[[dict[str, Any]], bytes], ...] = (
    lambda event: b'{"schema": "interaction/v1", ',  # invalid_json
    lambda event: orjson.dumps({**event, "type": "teleport"}),  # unknown_type
    lambda event: orjson.dumps({**event, "identity": {}}),  # missing_identity
    lambda event: orjson.dumps({**event, "occurred_at": "yesterday"}),  # schema_violation
    lambda event: orjson.dumps({**event, "schema": "interaction/v9"}),  # unsupported_schema
    lambda event: b"",  # empty_record
)


async def load_backlog(
    bootstrap: str,
    plan: SystemPlan,
    events: int,
    seed: int,
    malformed: int = 0,
    customers: int = DEFAULT_CUSTOMERS,
) -> int:
    """Sends the backlog, the journeys of ``customers`` people; with ``malformed``, that
    many spoiled copies of valid events interleaved evenly among them. Returns the
    valid events sent."""
    planned = step_plan(JOURNEY_RATE, events / JOURNEY_RATE, customers, seed, 0)
    spoil_every = max(1, len(planned) // malformed) if malformed else 0
    producer = create_producer(
        CommonSettings(kafka_bootstrap_servers=bootstrap), client_id="bench-drain", linger_ms=20
    )
    start = datetime.now(UTC)
    await producer.start()
    try:
        spoiled = 0
        for number, item in enumerate(planned):
            stamp = start + timedelta(milliseconds=number)
            topic = plan.names.interactions(item.channel)
            event = stamped(item.event, stamp)
            await producer.send(topic, orjson.dumps(event), key=item.key)
            if spoil_every and number % spoil_every == 0 and spoiled < malformed:
                spoil = SPOILERS[spoiled % len(SPOILERS)]
                await producer.send(topic, spoil(event), key=item.key)
                spoiled += 1
        await producer.flush()
    finally:
        await producer.stop()
    return len(planned)


async def drain(
    bootstrap: str,
    system: str,
    events: int,
    seed: int,
    limit: float,
    malformed: int = 0,
    decision_workers: int = 1,
    customers: int = DEFAULT_CUSTOMERS,
) -> Drained:
    plan = plan_for(system, f"drain-{uuid.uuid4().hex[:8]}.")
    run_dir = Path(tempfile.mkdtemp(prefix=f"concierge-drain-{system}-"))
    await provision_topics(bootstrap, plan.prefix, 4)
    probe = LagProbe(bootstrap)
    await probe.start()
    running = None
    try:
        loaded = await load_backlog(bootstrap, plan, events, seed, malformed, customers)
        broker = local_broker_pid(bootstrap)
        rest = None if broker is None else await broker_at_rest(broker, probe, plan.groups)
        running = await start_system(
            plan, bootstrap, 4, 2, "INFO", run_dir, decision_workers=decision_workers
        )
        meter = CpuMeter(with_broker(running.pids(), broker))
        cpu_before = meter.sample()
        began = time.monotonic()
        groups = list(plan.groups)
        at: dict[str, float] = {}
        while len(at) < len(groups):
            if time.monotonic() - began > limit:
                raise TimeoutError(f"{system} not drained in {limit:.0f}s: {sorted(at)} only")
            lags = await probe.lags(plan.groups)
            for index, group in enumerate(groups):
                upstream_done = all(g in at for g in groups[:index])
                if group not in at and upstream_done and lags[group] == 0:
                    at[group] = time.monotonic() - began
            await asyncio.sleep(POLL_SECONDS)
        cpu_after = meter.sample()
        cpu = {
            name: (cpu_after[name] or 0.0) - (before or 0.0)
            for name, before in cpu_before.items()
            if before is not None and cpu_after.get(name) is not None
        }
        if rest is not None and BROKER in cpu:
            # Charged per event, the broker's time-based load would make a slower
            # drain look dearer: only what it spent above rest is the events'.
            cpu[BROKER] = max(0.0, cpu[BROKER] - rest * (time.monotonic() - began))
        short = {group.removeprefix(plan.prefix): seconds for group, seconds in at.items()}
        return Drained(system, loaded, short, cpu, decision_workers, rest)
    finally:
        if running is not None:
            await running.stop()
        await probe.stop()
        await delete_topics(bootstrap, plan.prefix)
        shutil.rmtree(run_dir, ignore_errors=True)


async def broker_at_rest(
    pid: int, probe: LagProbe, groups: Mapping[str, tuple[str, ...]]
) -> float | None:
    """Cores the broker uses over ``REST_SECONDS`` while the bench polls lags as a
    drain does; None if it is gone."""
    before, clock = process_cpu_seconds(pid), time.monotonic()
    while time.monotonic() - clock < REST_SECONDS:
        await probe.lags(groups)
        await asyncio.sleep(POLL_SECONDS)
    after = process_cpu_seconds(pid)
    if before is None or after is None:
        return None
    return max(0.0, after - before) / (time.monotonic() - clock)


def report(results: list[Drained]) -> str:
    lines = ["| system | consumer group | drained at (s) | events/s to there |"]
    lines.append("|---|---|---|---|")
    for result in results:
        for group, seconds in result.at.items():
            rate = result.events / seconds
            lines.append(f"| {result.label} | {group} | {seconds:.1f} | {rate:,.0f} |")
    lines += ["", "| system | process | CPU (s) | CPU per event (µs) |", "|---|---|---|---|"]
    for result in results:
        for name, seconds in sorted(result.cpu.items()):
            per_event = result.cpu_us_per_event(name)
            lines.append(f"| {result.label} | {name} | {seconds:.1f} | {per_event:,.0f} |")
    lines.append("")
    for result in results:
        broker = result.cpu.get(BROKER)
        at_rest = (
            ""
            if result.broker_at_rest is None
            else f", above the {result.broker_at_rest:.2f} cores it used at rest"
        )
        lines.append(
            f"{result.label}: {result.events} events drained in {result.seconds:.1f} s, "
            f"{result.rate:,.0f} events/s, {sum(result.cpu.values()):.1f} CPU s"
            + ("" if broker is None else f" (the broker's {broker:.1f}{at_rest})")
        )
    by_name = {result.label: result for result in results}
    if CONCIERGE in by_name and RELAY_CHAIN in by_name:
        ratio = by_name[CONCIERGE].rate / by_name[RELAY_CHAIN].rate
        lines.append(f"Concierge over the relay chain, events/s: {ratio:.3f}x")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("CONCIERGE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    )
    parser.add_argument(
        "--events", type=int, default=DEFAULT_EVENTS, help="backlog size (simulator events)"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a {QUICK_EVENTS:,}-event backlog instead"
    )
    parser.add_argument("--systems", default=f"{RELAY_CHAIN},{CONCIERGE}")
    parser.add_argument(
        "--malformed",
        type=int,
        default=0,
        help="also drain Concierge with this many malformed records among the same "
        "valid ones, and compare (issue 13: 10,000)",
    )
    parser.add_argument(
        "--decision-workers",
        type=int,
        default=1,
        help="run Concierge's stage 2 in this many processes (scaled by partitions: "
        "a stage-2 worker is one Python thread, so one core at most)",
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help="whose journeys the backlog holds: fewer customers, more events each, "
        "so fuller contexts and histories and dearer events (docs/benchmarks.md)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=600.0, help="per system, seconds")
    args = parser.parse_args(argv)
    if args.quick:
        args.events = QUICK_EVENTS
    return args


async def run(args: argparse.Namespace) -> int:
    results = []
    for system in args.systems.split(","):
        print(f"{system}: loading {args.events} events, then draining", flush=True)
        workers = args.decision_workers if system == CONCIERGE else 1
        results.append(
            await drain(
                args.bootstrap,
                system,
                args.events,
                args.seed,
                args.timeout,
                decision_workers=workers,
                customers=args.customers,
            )
        )
        print(f"{system}: drained in {results[-1].seconds:.1f} s", flush=True)
    print()
    print(report(results))
    if args.malformed:
        clean = next(result for result in results if result.system == CONCIERGE)
        print(
            f"\n{CONCIERGE}: the same + {args.malformed:,} malformed records, draining", flush=True
        )
        dirty = await drain(
            args.bootstrap,
            CONCIERGE,
            args.events,
            args.seed,
            args.timeout,
            args.malformed,
            args.decision_workers,
            args.customers,
        )
        print(malformed_report(clean, dirty, args.malformed))
    return 0


def malformed_report(clean: Drained, dirty: Drained, malformed: int) -> str:
    """Valid events per second with and without malformed records among them."""
    intake = "concierge-intake"
    lines = [
        f"clean: {clean.events:,} valid events, intake drained in {clean.at[intake]:.1f} s, "
        f"all in {clean.seconds:.1f} s ({clean.rate:,.0f} valid events/s)",
        f"with {malformed:,} malformed: intake drained in {dirty.at[intake]:.1f} s, "
        f"all in {dirty.seconds:.1f} s ({dirty.rate:,.0f} valid events/s)",
        f"valid events/s with malformed among them over clean: end to end "
        f"{dirty.rate / clean.rate:.0%}, intake {clean.at[intake] / dirty.at[intake]:.0%} "
        "(target >= 90%)",
    ]
    return "\n".join(lines)


def main() -> None:
    sys.exit(asyncio.run(run(parse_args(sys.argv[1:]))))


if __name__ == "__main__":
    main()
