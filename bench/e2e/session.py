"""Benchmark one system end to end: topics, processes, generator, collector, ladder, cleanup.

A system that fails to start or breaks mid-ladder is reported with its error
and the steps it finished; the other systems still run.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bench.e2e.collector import Collector
from bench.e2e.cpu import local_broker_pid, with_broker
from bench.e2e.ladder import Ladder, LadderConfig, PlanSource, Progress
from bench.e2e.lag import LagProbe
from bench.e2e.latency import RunBook
from bench.e2e.launch import Generator, delete_topics, provision_topics, start_system
from bench.e2e.results import SystemResult
from bench.e2e.systems import SystemPlan
from bench.e2e.verdict import max_sustainable


@dataclass(frozen=True, slots=True)
class SessionConfig:
    bootstrap: str
    partitions: int
    linger_ms: int
    max_generator_lag_ms: float
    concierge_log_level: str
    collector_wait_ms: int
    prime_seconds: float
    ladder: LadderConfig


def plan_cache(build: PlanSource) -> PlanSource:
    """Each step's payloads built once and shared by every system (same payloads)."""
    return cache(build)


async def bench_system(
    plan: SystemPlan,
    config: SessionConfig,
    plans: PlanSource,
    run_dir: Path,
    progress: Progress,
    log: Callable[[str], None],
) -> SystemResult:
    system_dir = run_dir / plan.name
    system_dir.mkdir(parents=True, exist_ok=True)
    result = SystemResult(plan.name, plan.description, plan.primary_stage, plan.every_stage, ())
    book = RunBook()
    generator = Generator(
        config.bootstrap, config.linger_ms, config.max_generator_lag_ms, system_dir / "logs"
    )
    collector = Collector(config.bootstrap, plan.topic_stages, book, config.collector_wait_ms)
    probe = LagProbe(config.bootstrap)
    running = None
    try:
        log(f"{plan.name}: provisioning {plan.prefix}* and starting")
        await provision_topics(config.bootstrap, plan.prefix, config.partitions)
        running = await start_system(
            plan,
            config.bootstrap,
            config.partitions,
            config.linger_ms,
            config.concierge_log_level,
            system_dir,
        )
        await generator.start()
        await collector.start()
        await probe.start()
        pids = running.pids()
        result.processes = tuple(pids)
        # The broker's cores beside the system's: on one host it competes with them.
        measured = with_broker(pids, local_broker_pid(config.bootstrap))
        ladder = Ladder(
            plan, config.ladder, plans, generator, collector, book, probe, measured, system_dir
        )
        await ladder.prime(config.prime_seconds)
        # Steps land in the result as they finish, so a later failure keeps them.
        await ladder.climb(progress, result.steps)
        collector.check()
    except Exception as error:
        result.error = f"{type(error).__name__}: {error}"
        log(f"{plan.name}: failed: {result.error} (logs in {system_dir})")
        log(traceback.format_exc())
    finally:
        for stop in (probe.stop, collector.stop, generator.stop):
            with contextlib.suppress(Exception):
                await stop()
        if running is not None:
            await running.stop()
        with contextlib.suppress(Exception):
            await delete_topics(config.bootstrap, plan.prefix)
    result.unattributed = book.strays
    points = [step.point() for step in result.steps]
    result.sustained = max_sustainable(points, config.ladder.rates)
    result.capacity = max_sustainable(points, config.ladder.rates, latency=False)
    return result
