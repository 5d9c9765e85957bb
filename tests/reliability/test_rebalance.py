"""Two workers of each keyed stateful stage share the partitions; one of them leaves
(SIGTERM) and rejoins under load, first for context, then for decision. Its
partitions move to the other worker and back, tables recovered from the
changelogs each time: nothing lost, nothing decided twice, the oracle's result."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import pytest

from libs.common.lag import STAGES
from libs.common.provision import provision
from libs.common.topics import TopicNames
from services.cli.stack import SERVICES, Stack
from tests.reliability.conftest import fresh_settings
from tests.reliability.harness import (
    PacedProducer,
    Supervisor,
    contextualized_event_ids,
    differences,
    metric_total,
    observed_outputs,
    oracle,
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
HANDLED = {
    "context": "concierge_context_records_total",
    "decision": "concierge_decision_decisions_total",
}


def _both_busy(first: Stack, second: Stack, service: str) -> bool:
    return all(metric_total(stack, service, HANDLED[service]) > 0 for stack in (first, second))


async def test_a_worker_leaving_and_rejoining_under_load_changes_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = fresh_settings(kafka_bootstrap, partitions=4)
    assert (await provision(settings)).ok
    names = TopicNames(settings.topic_prefix)
    work = workload(seed=401, journeys=JOURNEYS)
    expected = oracle(work)

    with running_stack(settings, tmp_path / "a", *STAGES) as first:
        # Second workers: same deployment, their own HTTP ports and data dirs.
        twins = [spec for spec in SERVICES if spec.name in HANDLED]
        second = Stack(
            tmp_path / "b", first.base_env, twins, ports={s.name: free_port() for s in twins}
        )
        # As an orchestrator would, all along: restart a worker that exits for a
        # restart (code 75: records Faust dropped around a rebalance, or a
        # partition whose commits stopped; docs/reliability.md), except the one
        # the test took away on purpose.
        supervisors = [Supervisor(first, STAGES), Supervisor(second, list(HANDLED))]
        away: set[str] = set()

        async def supervise() -> None:
            while True:
                supervisors[1].services = [name for name in HANDLED if name not in away]
                for supervisor in supervisors:
                    supervisor.poll()
                await asyncio.sleep(0.5)

        orchestrator: asyncio.Task[None] | None = None
        try:
            second.up(timeout=120)
            orchestrator = asyncio.create_task(supervise())
            producer = PacedProducer(settings, work.records(names), RATE)
            producer.start()
            for service, leave_at, rejoin_at in (
                ("context", 0.15, 0.35),
                ("decision", 0.5, 0.7),
            ):
                await producer.reach(leave_at)
                # Both workers have partitions of the stage: it is really shared.
                await wait_for(
                    partial(_both_busy, first, second, service), 30, f"both {service} workers busy"
                )
                away.add(service)
                await terminate(second, service)
                print(f"\n{service}: second worker left at {producer.sent} sent")
                await producer.reach(rejoin_at)
                took = await restart(second, service)
                away.discard(service)
                print(f"{service}: rejoined at {producer.sent} sent, ready in {took:.1f}s")
            await producer.finish()
            await wait_drained(settings, timeout=120)
            restarts = [(name, round(at, 1)) for sv in supervisors for name, _, at in sv.exits]
            print(f"workers that exited and were restarted (service, monotonic s): {restarts}")
        finally:
            if orchestrator is not None:
                orchestrator.cancel()
            await asyncio.to_thread(second.down)

    missing = work.event_ids - await contextualized_event_ids(settings)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    observed = await observed_outputs(settings)
    assert not observed.duplicate_decision_ids(), observed.duplicate_decision_ids()
    assert not observed.duplicate_suppressions(), observed.duplicate_suppressions()
    assert not differences(expected, observed.outcome), differences(expected, observed.outcome)
