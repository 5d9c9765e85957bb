"""The broker itself fails: a new cluster, a broker stopped and restarted under load,
a broker that stalls while a worker crashes. A private broker (deploy/kafka/kafka.sh
on its own ports and data dir), never the shared one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import pytest

from libs.common.lag import STAGES
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from tests.reliability.conftest import PrivateBroker, fresh_settings
from tests.reliability.harness import (
    Supervisor,
    differences,
    kill,
    metric_total,
    observed_outputs,
    oracle,
    produce_all,
    resolved_event_ids,
    restart,
    terminate,
    wait_drained,
    workload,
)
from tests.support.kafka_io import read_all, wait_for
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration

DOWN_SECONDS = 20.0  # longer than a client's retries for a metadata request
DECISIONS = "concierge_decision_decisions_total"
NOT_RESENT = "concierge_decision_outputs_not_resent_total"


async def _internal_errors(settings: CommonSettings) -> list[dict[str, Any]]:
    names = TopicNames(settings.topic_prefix)
    letters = [r.json() for r in await read_all(settings, [names.dlq])]
    return [letter for letter in letters if letter["error"]["code"] == "internal_error"]


async def test_a_new_deployment_decides_its_very_first_events(
    private_broker: PrivateBroker, tmp_path: Path
) -> None:
    """First in this module, so the cluster is new: the workers create their table
    changelogs as they start, and events arrive at once."""
    settings = fresh_settings(private_broker.bootstrap)
    assert (await provision(settings)).ok
    names = TopicNames(settings.topic_prefix)
    work = workload(seed=301, journeys=60)
    expected = oracle(work)

    with running_stack(settings, tmp_path, *STAGES):
        await produce_all(settings, work.records(names))
        await wait_drained(settings, timeout=90)

    errors = await _internal_errors(settings)
    assert not errors, (
        f"{len(errors)} of {len(work)} events dead-lettered as internal_error by "
        f"{sorted({e['source']['topic'] for e in errors})}, e.g. {errors[0]['error']}"
    )
    observed = await observed_outputs(settings)
    assert not differences(expected, observed.outcome), differences(expected, observed.outcome)


async def test_the_pipeline_resumes_by_itself_after_a_broker_restart(
    private_broker: PrivateBroker, tmp_path: Path
) -> None:
    settings = fresh_settings(private_broker.bootstrap)
    assert (await provision(settings)).ok
    names = TopicNames(settings.topic_prefix)
    work = workload(seed=302, journeys=260)
    expected = oracle(work)
    records = work.records(names)
    half = len(records) // 2

    with running_stack(settings, tmp_path / "stack", *STAGES) as stack:
        supervisor = Supervisor(stack, STAGES)
        await produce_all(settings, records[:half])
        # Under load: the decision stage is busy with the first half.
        await wait_for(lambda: metric_total(stack, "decision", DECISIONS) >= 100, 60, "load")
        supervisor.restarting = False  # an orchestrator backs off while the broker is away
        await asyncio.to_thread(private_broker.down)
        went_down = time.monotonic()
        while time.monotonic() - went_down < DOWN_SECONDS:
            supervisor.poll()
            await asyncio.sleep(0.25)
        await asyncio.to_thread(private_broker.up)
        back_up, back_up_wall = time.monotonic(), time.time()
        supervisor.restarting = True
        supervisor.poll()
        await produce_all(settings, records[half:])
        caught_up = await wait_drained(settings, timeout=180, while_waiting=supervisor.poll)

    outputs = await read_all(settings, [names.actions(c) for c in CHANNELS] + [names.suppressions])
    after = [r.timestamp_ms / 1000 - back_up_wall for r in outputs]
    first_output = min((t for t in after if t > 0), default=float("nan"))
    exits = [(name, code, round(at - went_down, 1)) for name, code, at in supervisor.exits]
    print(
        f"\nbroker down {DOWN_SECONDS:.0f}s; worker exits (service, code, s after stop): {exits}; "
        f"restarts: {supervisor.restarts}\n"
        f"broker back up -> first new output {first_output:.1f}s, "
        f"-> caught up (every stage drained) {caught_up - back_up:.1f}s"
    )
    missing = work.event_ids - await resolved_event_ids(settings)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    assert not await _internal_errors(settings)
    observed = await observed_outputs(settings)
    assert not observed.duplicate_decision_ids(), observed.duplicate_decision_ids()
    assert not observed.duplicate_suppressions(), observed.duplicate_suppressions()
    assert not differences(expected, observed.outcome), differences(expected, observed.outcome)


async def test_a_decision_worker_crashing_while_the_broker_stalls_loses_no_action(
    private_broker: PrivateBroker, tmp_path: Path
) -> None:
    """The worker decides from its buffer while the broker stalls, then dies before
    its producer heard back. On restart the redelivered events must still get their
    actions. Outputs whose request reached the broker before the crash are appended
    when it thaws although the worker never heard of it: the restarted worker reads
    them back and does not send them again (docs/reliability.md, failure mode 2)."""
    settings = fresh_settings(private_broker.bootstrap)
    assert (await provision(settings)).ok
    names = TopicNames(settings.topic_prefix)
    # A backlog the batch stage needs seconds for (it decides a few thousand
    # events/s), so the broker freezes in the middle of it, with batches in flight.
    work = workload(seed=303, journeys=4000)
    expected = oracle(work)
    backlog = sum(len(events) for events in work.customers.values())

    with running_stack(settings, tmp_path / "stack", *STAGES) as stack:
        await terminate(stack, "decision")
        await produce_all(settings, work.records(names))
        await wait_drained(settings, timeout=90, stages=("intake",))
        await restart(stack, "decision")
        await wait_for(lambda: metric_total(stack, "decision", DECISIONS) >= 100, 60, "busy")
        private_broker.freeze()
        try:
            stalled_at = metric_total(stack, "decision", DECISIONS)
            # Else this test would prove nothing about batches in flight.
            assert stalled_at < backlog, f"froze only after all {backlog} decisions"
            # Up to 3 s for the worker to decide what it has already fetched.
            with contextlib.suppress(TimeoutError):
                await wait_for(
                    lambda: metric_total(stack, "decision", DECISIONS) >= stalled_at + 30,
                    3,
                    "decisions during the stall",
                )
            during = metric_total(stack, "decision", DECISIONS) - stalled_at
            await kill(stack, "decision")
        finally:
            private_broker.thaw()
        print(
            f"\nfroze after {stalled_at:.0f} of {backlog} decisions; decided {during:.0f} "
            "while the broker stalled, then SIGKILL"
        )
        await restart(stack, "decision")
        await wait_drained(settings, timeout=120)
        not_resent = metric_total(stack, "decision", NOT_RESENT)
        print(f"found already sent after the restart, not sent again: {not_resent:.0f} outputs")

    observed = await observed_outputs(settings)
    assert not observed.duplicate_decision_ids(), observed.duplicate_decision_ids()
    assert not observed.duplicate_suppressions(), observed.duplicate_suppressions()
    problems = differences(expected, observed.outcome, limit=3)
    lost = (expected.action_count + expected.suppression_count) - (
        observed.outcome.action_count + observed.outcome.suppression_count
    )
    assert not problems, f"{lost} actions or suppressions lost: " + "; ".join(problems)
