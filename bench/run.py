"""End-to-end benchmark: Concierge against a bare Kafka relay, open loop.

    python -m bench.run [--rates 250,500,1000,2000,3000,4000] [--step-seconds 8]
                        [--drain-events 100000] [--drain-decision-workers 2]
                        [--bootstrap 127.0.0.1:9092]
                        [--quick] [--systems ...]
    python -m bench.run --render bench/results/e2e-<run>.json

For each system (Kafka alone, a 1-hop bare relay, a 2-hop bare relay chain,
Concierge's two stages: intake -> decision) on its own fresh
topics, climbs the same ladder of offered rates with the same simulator
payloads, and reports latency from each event's intended send time to its
first output, throughput, lag and CPU, the maximum sustainable rate, and
Concierge's ratios to the relays. Then the drain mode (bench/drain_bench.py):
a backlog of simulator events waiting before the relay chain, then Concierge,
starts, drained end to end, with CPU per event per process; then Concierge
once more with stage 2 in two processes (scaled out by partitions). Writes JSON,
markdown and a PNG under ``bench/results/``. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.drain_bench import DEFAULT_EVENTS as DRAIN_EVENTS
from bench.drain_bench import QUICK_EVENTS, Drained, drain
from bench.e2e.ladder import LadderConfig
from bench.e2e.payloads import PAYLOAD_SOURCE, step_plan
from bench.e2e.plot import write_plot
from bench.e2e.report import render_markdown
from bench.e2e.results import StepResult, SystemResult, results_document
from bench.e2e.schedule import ladder_budget_seconds
from bench.e2e.session import SessionConfig, bench_system, plan_cache
from bench.e2e.systems import ALL_SYSTEMS, CONCIERGE, RELAY_CHAIN, plan_for
from bench.e2e.verdict import Criteria

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# From well below the targets (p99 at 1,000/s, 3,000/s sustainable) to above
# them; each system climbs until a step fails (--stop-after-failures).
DEFAULTS: dict[str, Any] = {
    "rates": "250,500,1000,2000,3000,4000",
    "step_seconds": 8.0,
    "warmup_seconds": 2.0,
    "grace_seconds": 2.0,
    "prime_seconds": 3.0,
}
QUICK: dict[str, Any] = {
    "rates": "50,400",
    "step_seconds": 5.0,
    "warmup_seconds": 2.0,
    "grace_seconds": 3.0,
    "prime_seconds": 2.0,
}
# Rough start-up per system (Concierge's two Faust workers dominate), for the budget line.
STARTUP_SECONDS = 15.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _progress(system: str, step: StepResult) -> None:
    primary = step.primary
    verdict = (
        "sustainable"
        if step.verdict.sustainable
        else "NOT sustainable: " + "; ".join(step.verdict.reasons)
    )
    _log(
        f"{system:>12} {step.offered_rate:>6.0f}/s: achieved {step.achieved_rate:.0f}/s, "
        f"{step.primary_stage} p50 {primary.p50_ms} p99 {primary.p99_ms} max {primary.max_ms} ms "
        f"({primary.fraction:.0%} with output), lag {sum(step.lag.values())}, "
        f"cpu {sum(step.cpu.values()):.2f} cores, gen lag {step.generator.max_lag_ms:.1f} ms"
        f"{'' if step.generator.valid else ' INVALID'} -> {verdict}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0]
    )
    env = os.environ
    parser.add_argument(
        "--rates", default=None, help=f"events/s, comma-separated ({DEFAULTS['rates']})"
    )
    parser.add_argument("--step-seconds", type=float, default=None, help="measured (12)")
    parser.add_argument("--warmup-seconds", type=float, default=None, help="per step (3)")
    parser.add_argument("--grace-seconds", type=float, default=None, help="for stragglers (3)")
    parser.add_argument(
        "--prime-seconds", type=float, default=None, help="unmeasured run before a ladder (5)"
    )
    parser.add_argument(
        "--bootstrap",
        default=env.get("CONCIERGE_KAFKA_BOOTSTRAP_SERVERS")
        or env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    )
    parser.add_argument("--partitions", type=int, default=int(env.get("CONCIERGE_PARTITIONS", "4")))
    parser.add_argument(
        "--linger-ms", type=int, default=2, help="every producer, Concierge's stages included"
    )
    parser.add_argument("--p99-target-ms", type=float, default=50.0)
    parser.add_argument("--max-lag-seconds", type=float, default=2.0)
    parser.add_argument("--min-throughput-fraction", type=float, default=0.9)
    parser.add_argument("--max-generator-lag-ms", type=float, default=200.0)
    parser.add_argument(
        "--customers",
        type=int,
        default=2000,
        help="whose journeys the ladder and the drain play (fewer: more events each)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--systems", default=",".join(ALL_SYSTEMS))
    parser.add_argument(
        "--stop-after-failures",
        type=int,
        default=1,
        help="stop after N steps in a row not kept up with (0: climb every rate)",
    )
    parser.add_argument("--concierge-log-level", default="INFO", help="as shipped: INFO")
    parser.add_argument(
        "--collector-wait-ms",
        type=int,
        default=0,
        help="let the broker batch the collector's fetches (less bench CPU, adds <= N ms)",
    )
    parser.add_argument(
        "--drain-events",
        type=int,
        default=None,
        help=f"backlog of the drain mode ({DRAIN_EVENTS:,}; 0 skips it)",
    )
    parser.add_argument(
        "--drain-decision-workers",
        type=int,
        default=2,
        help="also drain with stage 2 in this many processes (1: only as shipped)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--quick", action="store_true", help="~2-minute smoke run")
    parser.add_argument("--keep-run-dir", action="store_true", help="keep logs and state")
    parser.add_argument("--render", type=Path, help="only render a saved JSON result")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else DEFAULTS
    if args.drain_events is None:
        args.drain_events = QUICK_EVENTS if args.quick else DRAIN_EVENTS
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    unknown = set(args.systems.split(",")) - set(ALL_SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; choose from {', '.join(ALL_SYSTEMS)}")
    return args


def _criteria(args: argparse.Namespace) -> Criteria:
    return Criteria(
        p99_target_ms=args.p99_target_ms,
        max_lag_seconds=args.max_lag_seconds,
        min_throughput_fraction=args.min_throughput_fraction,
    )


async def run(args: argparse.Namespace, run_id: str, run_dir: Path) -> list[SystemResult]:
    rates = tuple(float(rate) for rate in args.rates.split(","))
    ladder = LadderConfig(
        rates=rates,
        step_seconds=args.step_seconds,
        warmup_seconds=args.warmup_seconds,
        grace_seconds=args.grace_seconds,
        criteria=_criteria(args),
        stop_after_failures=args.stop_after_failures,
    )
    config = SessionConfig(
        bootstrap=args.bootstrap,
        partitions=args.partitions,
        linger_ms=args.linger_ms,
        max_generator_lag_ms=args.max_generator_lag_ms,
        concierge_log_level=args.concierge_log_level,
        collector_wait_ms=args.collector_wait_ms,
        prime_seconds=args.prime_seconds,
        ladder=ladder,
    )
    plans = plan_cache(
        lambda index, rate, seconds: step_plan(rate, seconds, args.customers, args.seed, index)
    )
    run_prefix = f"bench-{run_id}."
    results = []
    for system in args.systems.split(","):
        plan = plan_for(system, run_prefix)
        results.append(await bench_system(plan, config, plans, run_dir, _progress, _log))
    return results


async def run_drains(args: argparse.Namespace) -> list[Drained]:
    """The drain mode: the same backlog for the relay chain and Concierge, then
    for Concierge with stage 2 scaled out to ``--drain-decision-workers``."""
    drained = []
    runs = [(RELAY_CHAIN, 1), (CONCIERGE, 1)]
    if args.drain_decision_workers > 1:
        runs.append((CONCIERGE, args.drain_decision_workers))
    for system, workers in runs:
        _log(f"{system:>12} drain: loading {args.drain_events:,} events, then draining")
        result = await drain(
            args.bootstrap,
            system,
            args.drain_events,
            args.seed,
            900.0,
            0,
            workers,
            args.customers,
        )
        _log(f"{result.label} drain: {result.rate:,.0f} events/s, CPU µs/event {_cpu(result)}")
        drained.append(result)
    return drained


def _cpu(result: Drained) -> dict[str, int]:
    return {name: round(result.cpu_us_per_event(name)) for name in sorted(result.cpu)}


def drain_document(drained: list[Drained]) -> dict[str, Any]:
    by_name = {result.label: result for result in drained}
    concierge, chain = by_name.get(CONCIERGE), by_name.get(RELAY_CHAIN)
    scaled = [
        result for result in drained if result.system == CONCIERGE and result.decision_workers > 1
    ]
    return {
        # One process per stage, as shipped: comparable from run to run.
        "drain_events_per_s": None if concierge is None else round(concierge.rate, 1),
        "drain_ratio_to_relay_chain": None
        if concierge is None or chain is None
        else round(concierge.rate / chain.rate, 4),
        # Stage 2 scaled out by partitions: what an operator catching up runs.
        "drain_scaled_out": None
        if not scaled
        else {
            "decision_workers": scaled[0].decision_workers,
            "events_per_s": round(scaled[0].rate, 1),
            "over_one_worker": None
            if concierge is None
            else round(scaled[0].rate / concierge.rate, 3),
        },
        "drain": {
            result.label: {
                "events": result.events,
                "seconds": round(result.seconds, 2),
                "events_per_s": round(result.rate, 1),
                "drained_at_s": {group: round(at, 2) for group, at in result.at.items()},
                "cpu_us_per_event": _cpu(result),
            }
            for result in drained
        },
    }


def write_outputs(document: dict[str, Any], out_dir: Path, stem: str) -> tuple[Path, str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    markdown = render_markdown(document)
    (out_dir / f"{stem}.md").write_text(markdown)
    write_plot(document, out_dir / f"{stem}.png")
    return json_path, markdown


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM (e.g. from make or CI) unwinds like Ctrl-C, so every system and
    # helper process is stopped and the run's topics are deleted.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    # aiokafka logs every failed fetch while a broker is away; failures that
    # matter surface as errors in the run's results instead.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    if args.render is not None:
        document = json.loads(args.render.read_text())
        print(render_markdown(document))
        write_plot(document, args.render.with_suffix(".png"))
        return 0
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    systems = args.systems.split(",")
    budget = ladder_budget_seconds(
        len(systems),
        len(args.rates.split(",")),
        args.warmup_seconds,
        args.step_seconds,
        args.grace_seconds,
        STARTUP_SECONDS + args.prime_seconds + args.grace_seconds,
    )
    _log(f"run {run_id}: {', '.join(systems)} at {args.rates}/s; at most ~{budget / 60:.1f} min")
    run_dir = Path(tempfile.mkdtemp(prefix=f"concierge-bench-{run_id}-"))
    clock = time.monotonic()
    results: list[SystemResult] = []
    drained: list[Drained] = []
    try:
        results = asyncio.run(run(args, run_id, run_dir))
        if args.drain_events > 0:
            drained = asyncio.run(run_drains(args))
    finally:
        # A failed system's logs are the only way to learn why: keep them.
        if args.keep_run_dir or not results or any(result.error for result in results):
            _log(f"logs and state kept in {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    meta = {
        "id": run_id,
        "started_at": started.isoformat(timespec="seconds"),
        "wall_seconds": round(time.monotonic() - clock, 1),
        "host": f"{platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()})",
        "bootstrap": args.bootstrap,
        "partitions": args.partitions,
        "linger_ms": args.linger_ms,
        "acks": "all",
        "rates": [float(rate) for rate in args.rates.split(",")],
        "step_seconds": args.step_seconds,
        "warmup_seconds": args.warmup_seconds,
        "grace_seconds": args.grace_seconds,
        "payload_source": f"{PAYLOAD_SOURCE}(customers={args.customers}, seed={args.seed}+step)",
        "concierge_log_level": args.concierge_log_level,
        "collector_wait_ms": args.collector_wait_ms,
        "quick": args.quick,
        "drain_events": args.drain_events,
    }
    criteria = {**asdict(_criteria(args)), "max_generator_lag_ms": args.max_generator_lag_ms}
    document = {**results_document(results, meta, criteria), **drain_document(drained)}
    json_path, markdown = write_outputs(document, args.out, f"e2e-{run_id}")
    print(markdown)
    _log(f"wrote {json_path} (+ .md, .png) in {meta['wall_seconds']:.0f} s")
    concierge = next((r for r in results if r.name == CONCIERGE), None)
    return 1 if any(result.error for result in results) or concierge is None else 0


if __name__ == "__main__":
    sys.exit(main())
