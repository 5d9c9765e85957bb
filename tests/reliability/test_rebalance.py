"""Second workers join the two stages under load.

Decision (keyed, stateful): two workers share the partitions; one of them leaves
(SIGTERM) and rejoins. Its partitions move to the other worker and back, tables
recovered from the changelogs each time.

Intake (the single writer of identity): a second worker joins, stays a while
and leaves again. All of intake's input partitions stay with one member the
whole time, so identifier links are only ever written by one worker.

Throughout: nothing lost, nothing decided twice, the oracle's result.
"""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import pytest

from libs.common.lag import STAGES
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from services.cli.stack import SERVICES, Stack
from tests.reliability.conftest import fresh_settings
from tests.reliability.harness import (
    PacedProducer,
    Supervisor,
    differences,
    input_holders,
    metric_total,
    observed_outputs,
    oracle,
    resolved_event_ids,
    restart,
    terminate,
    wait_drained,
    workload,
)
from tests.support.kafka_io import wait_for
from tests.support.stack import free_port, running_stack

pytestmark = pytest.mark.integration

JOURNEYS = 300
RATE = 70.0
DECISIONS = "concierge_decision_decisions_total"


def _both_busy(first: Stack, second: Stack) -> bool:
    return all(metric_total(stack, "decision", DECISIONS) > 0 for stack in (first, second))


async def _watch_single_writer(
    settings: CommonSettings, samples: list[dict[str, list[str]]]
) -> None:
    """Sample intake's group: who holds its input partitions."""
    while True:
        try:
            samples.append(await input_holders(settings, "intake"))
        except Exception as error:  # the group mid-rebalance; try again
            print(f"intake group not described: {error!r}")
        await asyncio.sleep(0.5)


async def test_workers_leaving_and_joining_under_load_change_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = fresh_settings(kafka_bootstrap, partitions=4)
    assert (await provision(settings)).ok
    names = TopicNames(settings.topic_prefix)
    work = workload(seed=401, journeys=JOURNEYS)
    expected = oracle(work)

    with running_stack(settings, tmp_path / "a", *STAGES) as first:
        # Second workers: same deployment, their own HTTP ports and data dirs.
        twins = [spec for spec in SERVICES if spec.name in STAGES]
        second = Stack(
            tmp_path / "b", first.base_env, twins, ports={s.name: free_port() for s in twins}
        )
        # As an orchestrator would, all along: restart a worker that exits for a
        # restart (code 75: records Faust dropped around a rebalance, or a
        # partition whose commits stopped; docs/reliability.md), but only the
        # second workers the test wants running.
        wanted: set[str] = {"decision"}
        supervisors = [Supervisor(first, STAGES), Supervisor(second, sorted(wanted))]
        samples: list[dict[str, list[str]]] = []

        async def supervise() -> None:
            while True:
                supervisors[1].services = sorted(wanted)
                for supervisor in supervisors:
                    supervisor.poll()
                await asyncio.sleep(0.5)

        orchestrator: asyncio.Task[None] | None = None
        watcher: asyncio.Task[None] | None = None
        try:
            await restart(second, "decision")
            orchestrator = asyncio.create_task(supervise())
            producer = PacedProducer(settings, work.records(names), RATE)
            producer.start()

            # Decision: the second worker leaves and rejoins.
            await producer.reach(0.15)
            # Both workers have partitions of the stage: it is really shared.
            await wait_for(partial(_both_busy, first, second), 30, "both decision workers busy")
            wanted.discard("decision")
            await terminate(second, "decision")
            print(f"\ndecision: second worker left at {producer.sent} sent")
            await producer.reach(0.35)
            took = await restart(second, "decision")
            wanted.add("decision")
            print(f"decision: rejoined at {producer.sent} sent, ready in {took:.1f}s")

            # Intake: a second worker joins and leaves; one writer all along.
            await producer.reach(0.5)
            watcher = asyncio.create_task(_watch_single_writer(settings, samples))
            took = await restart(second, "intake")
            wanted.add("intake")
            print(f"intake: second worker joined at {producer.sent} sent, ready in {took:.1f}s")
            await producer.reach(0.8)
            wanted.discard("intake")
            await terminate(second, "intake")
            print(f"intake: second worker left at {producer.sent} sent")

            await producer.finish()
            await wait_drained(settings, timeout=120)
            restarts = [(name, round(at, 1)) for sv in supervisors for name, _, at in sv.exits]
            print(f"workers that exited and were restarted (service, monotonic s): {restarts}")
        finally:
            for task in (watcher, orchestrator):
                if task is not None:
                    task.cancel()
            await asyncio.to_thread(second.down)

    split = [sample for sample in samples if len(sample) > 1]
    assert not split, f"intake's input split between workers: {split[:3]}"
    assert any(len(sample) == 1 for sample in samples), f"no intake member seen: {samples[:5]}"
    missing = work.event_ids - await resolved_event_ids(settings)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    observed = await observed_outputs(settings)
    assert not observed.duplicate_decision_ids(), observed.duplicate_decision_ids()
    assert not observed.duplicate_suppressions(), observed.duplicate_suppressions()
    assert not differences(expected, observed.outcome), differences(expected, observed.outcome)
