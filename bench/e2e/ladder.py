"""One system's rate ladder: for each offered rate, a warm-up, a measured window, a grace.

Steps run back to back on the same running system, after an unmeasured
priming run. The ladder stops after a step the system could not keep up with
(configurable): higher rates would only fail harder, and the backlog an
overloaded step leaves behind would pollute the next one.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.e2e.collector import Collector
from bench.e2e.cpu import CpuMeter, cores_used
from bench.e2e.lag import LagProbe
from bench.e2e.latency import RunBook, StepBook
from bench.e2e.launch import Generator
from bench.e2e.results import StepResult
from bench.e2e.schedule import NS_PER_S, GeneratorReport, Planned, StepTimeline
from bench.e2e.systems import SystemPlan
from bench.e2e.verdict import Criteria, StepFacts, judge, should_stop

# Time between handing the generator its plan and its first send.
LEAD_SECONDS = 0.5
# When the per-event stage comes before the primary one (Concierge: intake's
# resolved records, then decision's actions), how long to wait for the last
# actions once every event is out.
SETTLE_SECONDS = 1.0
# The generator's reply may come this long after its last send (flush included).
PLAY_SLACK_SECONDS = 60.0
# Priming's payloads use their own seed, apart from every step's.
PRIMING_INDEX = 1000


@dataclass(frozen=True, slots=True)
class _Played:
    book: StepBook
    generator: GeneratorReport
    lag: dict[str, int]
    cpu: dict[str, float]


@dataclass(frozen=True, slots=True)
class LadderConfig:
    rates: tuple[float, ...]
    step_seconds: float
    warmup_seconds: float
    grace_seconds: float
    criteria: Criteria
    stop_after_failures: int


# (step index, rate, seconds) -> the step's payloads and offsets.
PlanSource = Callable[[int, float, float], Sequence[Planned]]
Progress = Callable[[str, StepResult], None]


async def _sleep_until(wall_ns: int) -> None:
    delay = (wall_ns - time.time_ns()) / NS_PER_S
    if delay > 0:
        await asyncio.sleep(delay)


async def _grace(
    book: StepBook, timeline: StepTimeline, collector: Collector, settle: float
) -> None:
    """Wait for stragglers: until every event is out (plus settle) or the grace ends."""
    while book.pending() > 0 and time.time_ns() < timeline.grace_end_ns:
        collector.check()
        await asyncio.sleep(0.05)
    if settle > 0:
        await asyncio.sleep(
            min(settle, max(0.0, (timeline.grace_end_ns - time.time_ns()) / NS_PER_S))
        )


@dataclass
class Ladder:
    plan: SystemPlan
    config: LadderConfig
    plans: PlanSource
    generator: Generator
    collector: Collector
    book: RunBook
    probe: LagProbe
    pids: dict[str, int]
    work_dir: Path

    async def _play(self, index: int, rate: float, timeline: StepTimeline) -> _Played:
        """Send one plan open loop and collect what came out, per the timeline."""
        seconds = timeline.warmup_s + timeline.measure_s
        planned = self.plans(index, rate, seconds)
        plan_path = self.work_dir / f"{self.plan.name}-step{index}.pickle"
        names = self.plan.names
        items = [(p.offset_ns, names.interactions(p.channel), p.key, p.event) for p in planned]
        plan_path.write_bytes(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
        # The plan is written first: the timeline starts once the generator can read it.
        timeline = replace(timeline, start_ns=time.time_ns() + round(LEAD_SECONDS * NS_PER_S))
        book = StepBook(self.plan.stages, self.plan.every_stage, timeline)
        self.book.add(book, ((p.event_id, timeline.start_ns + p.offset_ns) for p in planned))
        meter = CpuMeter({**self.pids, "generator": self.generator.pid, "bench": os.getpid()})
        playing = asyncio.create_task(
            self.generator.play(plan_path, timeline.start_ns, seconds + PLAY_SLACK_SECONDS)
        )
        await _sleep_until(timeline.window_start_ns)
        cpu_before, clock_before = meter.sample(), time.monotonic()
        await _sleep_until(timeline.window_end_ns)
        cpu_after, clock_after = meter.sample(), time.monotonic()
        # Backlog at the end of the load, while it is still there to see.
        lag = await self.probe.lags(self.plan.groups)
        generator = await playing
        settle = SETTLE_SECONDS if self.plan.primary_stage != self.plan.every_stage else 0.0
        await _grace(book, timeline, self.collector, settle)
        book.close(time.time_ns())
        plan_path.unlink(missing_ok=True)
        cpu = cores_used(cpu_before, cpu_after, clock_after - clock_before)
        return _Played(book, generator, lag, cpu)

    async def prime(self, seconds: float) -> None:
        """Run the lowest rate unmeasured first, so the first step does not pay for
        cold start (connections, metadata of every output topic, first table writes)."""
        if seconds <= 0:
            return
        timeline = StepTimeline(0, seconds, 0.0, self.config.grace_seconds)
        await self._play(PRIMING_INDEX, self.config.rates[0], timeline)

    async def step(self, index: int, rate: float) -> StepResult:
        config = self.config
        timeline = StepTimeline(0, config.warmup_seconds, config.step_seconds, config.grace_seconds)
        played = await self._play(index, rate, timeline)
        step_book, generator, lag = played.book, played.generator, played.lag
        stats = step_book.all_stats()
        every = stats[self.plan.every_stage]
        facts = StepFacts(
            offered_rate=rate,
            achieved_rate=step_book.achieved_rate(),
            generator_valid=generator.valid,
            p99_ms=stats[self.plan.primary_stage].p99_ms,
            completion=every.fraction,
            lag_by_group=lag,
        )
        return StepResult(
            offered_rate=rate,
            achieved_rate=facts.achieved_rate,
            primary_stage=self.plan.primary_stage,
            stages=stats,
            generator=generator,
            lag=lag,
            cpu=played.cpu,
            verdict=judge(facts, config.criteria),
        )

    async def climb(self, progress: Progress, results: list[StepResult]) -> None:
        for index, rate in enumerate(self.config.rates):
            result = await self.step(index, rate)
            results.append(result)
            progress(self.plan.name, result)
            if should_stop([r.point() for r in results], self.config.stop_after_failures):
                break
