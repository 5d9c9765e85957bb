"""What every reliability test shares: a workload, its replay oracle, and ways to
read what the pipeline really did.

The oracle replays the same input through the pure domain functions, one
customer at a time: intake's ``validate_record``, then the decision stage's
``apply_event`` (the context reducers) and ``decide`` with a fresh
``ContactHistory``. An uninterrupted,
single-process run of the domain is what the distributed pipeline must equal,
whatever was killed, restarted or rebalanced on the way.

Determinism. Each customer is on ONE channel topic and every record is keyed
by the customer, so a customer's events stay in one partition and in order
(intake reads the four channel topics independently; order across them is not
guaranteed). ``occurred_at`` is close to now, so time windows (frustration,
cooldowns, TTLs) hold the same for the pipeline and the oracle. Caps count
offers per calendar day: a run that straddles midnight in the customer's
timezone (Europe/London by default) could differ, so keep runs short.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from libs.common.kafka import create_admin, create_producer
from libs.common.lag import STAGES, stage_inputs
from libs.common.lag import stage_lags as partition_lags
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from libs.context.model import CustomerContext
from libs.context.reducers import apply_event
from libs.contract.common import Channel
from libs.contract.dlq import SourceRef
from services.cli.stack import Stack, StackError
from services.decision.domain.catalogue import DecisionConfig, load_config
from services.decision.domain.decide import decide
from services.decision.domain.history import ContactHistory
from services.intake.domain.validate import Accepted, validate_record
from services.simulator.journeys import journey_for, stamped
from tests.support.kafka_io import read_all, wait_for

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "deploy" / "config" / "catalogue.yaml"
POLICIES = REPO / "deploy" / "config" / "policies.yaml"
ORACLE_PII_KEY = b"reliability-oracle-key-0123456789abcdef"

Record = tuple[str, bytes | None, bytes | None]  # topic, key, value


@cache
def decision_config() -> DecisionConfig:
    return load_config(CATALOGUE, POLICIES)


# --- the workload ----------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Events per customer, in the order each customer sends them, on one channel each."""

    customers: dict[str, list[dict[str, Any]]]

    @property
    def event_ids(self) -> set[str]:
        return {e["event_id"] for events in self.customers.values() for e in events}

    def __len__(self) -> int:
        return sum(len(events) for events in self.customers.values())

    def records(self, names: TopicNames) -> list[Record]:
        """Round-robin across customers, so every customer is mid-journey all along."""
        queues = [list(events) for events in self.customers.values()]
        ordered: list[Record] = []
        position = 0
        while any(position < len(queue) for queue in queues):
            for queue in queues:
                if position < len(queue):
                    event = queue[position]
                    ordered.append(
                        (
                            names.interactions(event["channel"]),
                            event["identity"]["customer_id"].encode(),
                            orjson.dumps(event),
                        )
                    )
            position += 1
        return ordered


def workload(seed: int, journeys: int, tag: str = "R") -> Workload:
    """The simulator's journeys ``1..journeys`` for ``seed``, one customer per
    (journey, channel): that customer's events on that channel, identified by
    ``customer_id`` only (identity merges take two hops whose timing is not the
    oracle's business; docs/architecture.md)."""
    customers: dict[str, list[dict[str, Any]]] = {}
    for number in range(1, journeys + 1):
        for timed in journey_for(number, seed):
            customer = f"{tag}{seed}-{number}-{timed.channel}"
            if customer not in customers:
                customers[customer] = _preamble(customer, timed.channel, number)
            event = dict(timed.event, identity={"customer_id": customer})
            customers[customer].append(event)
    # occurred_at close to now and strictly increasing per customer, in send order.
    total = sum(len(events) for events in customers.values())
    start = datetime.now(UTC) - timedelta(seconds=60) - timedelta(milliseconds=total)
    stamped_customers: dict[str, list[dict[str, Any]]] = {c: [] for c in customers}
    index = 0
    position = 0
    while index < total:
        for customer, events in customers.items():
            if position < len(events):
                at = start + timedelta(milliseconds=index)
                stamped_customers[customer].append(stamped(events[position], at))
                index += 1
        position += 1
    return Workload(stamped_customers)


def _preamble(customer: str, channel: str, number: int) -> list[dict[str, Any]]:
    """Every other customer is a gold one who opted in to marketing on their channel,
    so offers, caps and consent withdrawals are exercised too."""
    if number % 2:
        return []
    identity = {"customer_id": customer}
    common = {"schema": "interaction/v1", "channel": channel, "identity": identity}
    return [
        dict(
            common,
            event_id=f"{customer}-profile",
            type="profile_updated",
            attributes={"value_tier": "gold"},
        ),
        dict(
            common,
            event_id=f"{customer}-consent",
            type="consent_updated",
            attributes={"purpose": "marketing", "granted": True, "channel": channel},
        ),
    ]


# --- the oracle --------------------------------------------------------------------------

ActionKey = tuple[str, str]  # trigger event_id, action id
SuppressionKey = tuple[str, str, str]  # trigger event_id, reason, state


@dataclass
class Outcome:
    """Per customer, in decision order."""

    actions: dict[str, list[ActionKey]] = field(default_factory=dict)
    suppressions: dict[str, list[SuppressionKey]] = field(default_factory=dict)

    @property
    def action_count(self) -> int:
        return sum(len(v) for v in self.actions.values())

    @property
    def suppression_count(self) -> int:
        return sum(len(v) for v in self.suppressions.values())


def oracle(work: Workload) -> Outcome:
    config = decision_config()
    now = datetime.now(UTC)
    expected = Outcome()
    for customer, events in work.customers.items():
        context: CustomerContext | None = None
        history = ContactHistory.empty(customer)
        for offset, raw in enumerate(events):
            channel = Channel(raw["channel"])
            verdict = validate_record(
                orjson.dumps(raw),
                topic_channel=channel,
                source=SourceRef(topic=f"interactions.{channel.value}", partition=0, offset=offset),
                now=now,
                pii_key=ORACLE_PII_KEY,
            )
            assert isinstance(verdict, Accepted), (raw, verdict)
            event = verdict.event
            context = apply_event(context, event, customer, False, now)
            result = decide(event, context, history, config.catalogue, config.policies, now)
            history = result.history
            for action in result.actions:
                expected.actions.setdefault(customer, []).append(
                    (action.trigger.event_id, action.action.id)
                )
            for suppression in result.suppressions:
                expected.suppressions.setdefault(customer, []).append(
                    (
                        suppression.trigger.event_id,
                        str(suppression.reason),
                        str(suppression.state),
                    )
                )
    return expected


# --- reading what happened ---------------------------------------------------------------


@dataclass
class Observed:
    outcome: Outcome
    decision_ids: Counter[str]
    suppression_emissions: Counter[tuple[str, str, str]]  # suppression_id, state, trigger

    def duplicate_decision_ids(self) -> dict[str, int]:
        return {k: n for k, n in self.decision_ids.items() if n > 1}

    def duplicate_suppressions(self) -> dict[tuple[str, str, str], int]:
        return {k: n for k, n in self.suppression_emissions.items() if n > 1}


async def observed_outputs(settings: CommonSettings) -> Observed:
    """Actions and suppressions as emitted, repeats included."""
    names = TopicNames(settings.topic_prefix)
    topics = [names.actions(c) for c in CHANNELS] + [names.suppressions]
    records = sorted(
        await read_all(settings, topics), key=lambda r: (r.topic, r.partition, r.offset)
    )
    outcome = Outcome()
    decision_ids: Counter[str] = Counter()
    emissions: Counter[tuple[str, str, str]] = Counter()
    for record in records:
        body = record.json()
        customer = body["customer_id"]
        trigger = body["trigger"]["event_id"]
        if body["schema"] == "action/v1":
            decision_ids[body["decision_id"]] += 1
            outcome.actions.setdefault(customer, []).append((trigger, body["action"]["id"]))
        else:
            emission = (body["suppression_id"], body["state"], trigger)
            emissions[emission] += 1
            outcome.suppressions.setdefault(customer, []).append(
                (trigger, body["reason"], body["state"])
            )
    return Observed(outcome, decision_ids, emissions)


def differences(expected: Outcome, got: Outcome, limit: int = 10) -> list[str]:
    """Customers whose actions or suppressions differ from the oracle's, explained."""
    problems: list[str] = []
    for kind, want, have in (
        ("actions", expected.actions, got.actions),
        ("suppressions", expected.suppressions, got.suppressions),
    ):
        for customer in sorted(set(want) | set(have)):
            a: Sequence[object] = want.get(customer, [])
            b: Sequence[object] = have.get(customer, [])
            if list(a) != list(b):
                missing = Counter(a) - Counter(b)
                extra = Counter(b) - Counter(a)
                problems.append(
                    f"{customer} {kind}: missing {dict(missing)}, extra {dict(extra)}"
                    + ("" if missing or extra else f", order {a} != {b}")
                )
    if len(problems) > limit:
        return [*problems[:limit], f"... and {len(problems) - limit} more"]
    return problems


async def resolved_event_ids(settings: CommonSettings) -> set[str]:
    """The events intake handed to the decision stage (once ``wait_drained`` said the
    decision stage consumed its input to the end, every one of them was decided)."""
    names = TopicNames(settings.topic_prefix)
    ids: set[str] = set()
    for record in await read_all(settings, [names.resolved]):
        body = orjson.loads(record.value or b"{}")
        if body.get("kind") == "event":
            ids.add(body["event"]["event_id"])
    return ids


# --- consumer groups: has every stage consumed everything? -------------------------------


async def stage_lags(
    settings: CommonSettings, stages: Iterable[str] = STAGES
) -> dict[str, int | None]:
    """Records each stage's group has not committed yet, upstream first; None when the
    broker does not answer (it may be down on purpose)."""
    wanted = tuple(stages)
    try:
        lags = await partition_lags(settings, wanted)
    except Exception:
        return dict.fromkeys(wanted)
    return {stage: sum(item.lag for item in parts) for stage, parts in lags.items()}


async def wait_drained(
    settings: CommonSettings,
    timeout: float,
    stages: Iterable[str] = STAGES,
    while_waiting: Callable[[], object] | None = None,
) -> float:
    """Poll until every stage's group has committed to the end of its input; returns
    when (monotonic) that was first seen."""
    wanted = tuple(stages)
    deadline = time.monotonic() + timeout
    last: dict[str, int | None] = {}
    while True:
        if while_waiting is not None:
            while_waiting()
        last = await stage_lags(settings, wanted)
        if all(lag == 0 for lag in last.values()):
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"pipeline not drained within {timeout:.0f}s: lags {last}")
        await asyncio.sleep(0.5)


async def input_holders(settings: CommonSettings, stage: str) -> dict[str, list[str]]:
    """The members of a stage's consumer group that hold any of its input partitions
    (standby changelog partitions left out), by client id: the partitions they hold.

    Intake is the single writer of identity: at most one member may ever be here.
    """
    group = f"{settings.topic_prefix}concierge-{stage}"
    inputs = set(stage_inputs(TopicNames(settings.topic_prefix))[stage])
    admin = create_admin(settings, client_id="reliability-groups")
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    holders: dict[str, list[str]] = {}
    for response in responses:
        for described in response.to_object()["groups"]:
            for member in described["members"]:
                if not member["member_assignment"]:
                    continue  # mid-rebalance: nothing assigned yet
                assignment = ConsumerProtocolMemberAssignment.decode(member["member_assignment"])
                held = [
                    f"{tp.topic}[{tp.partition}]"
                    for tp in assignment.partitions()
                    if tp.topic in inputs
                ]
                if held:
                    holders[f"{member['client_id']} {member['member_id']}"] = held
    return holders


# --- producing ---------------------------------------------------------------------------


async def produce_all(settings: CommonSettings, records: Sequence[Record]) -> list[SourceRef]:
    """Send every record, pipelined (not one round trip each); returns where each landed."""
    producer = create_producer(settings, client_id="reliability-producer", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        landed = await asyncio.gather(*futures)
        return [SourceRef(topic=m.topic, partition=m.partition, offset=m.offset) for m in landed]
    finally:
        await producer.stop()


@dataclass
class PacedProducer:
    """Sends records at a steady rate in the background; ``sent`` says how far it is."""

    settings: CommonSettings
    records: Sequence[Record]
    rate: float
    sent: int = 0
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        producer = create_producer(self.settings, client_id="reliability-paced", linger_ms=5)
        await producer.start()
        try:
            loop = asyncio.get_running_loop()
            began = loop.time()
            futures = []
            for index, (topic, key, value) in enumerate(self.records):
                due = began + index / self.rate
                if (wait := due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                futures.append(await producer.send(topic, value, key=key))
                self.sent = index + 1
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def reach(self, fraction: float, timeout: float = 120) -> None:
        target = int(len(self.records) * fraction)
        await wait_for(lambda: self.sent >= target, timeout, f"{target} records sent")

    async def finish(self, timeout: float = 180) -> None:
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout)


# --- processes ---------------------------------------------------------------------------


def metric_total(stack: Stack, service: str, name: str, label: str = "") -> float:
    """Sum of a Prometheus counter over the series whose labels contain ``label``;
    0 when the service does not answer."""
    try:
        text = httpx.get(f"{stack.url(service)}/metrics", timeout=2).text
    except httpx.HTTPError:
        return 0.0
    pattern = re.compile(rf"^{re.escape(name)}\{{([^}}]*)\}} ([0-9.e+]+)$", re.M)
    return sum(float(value) for labels, value in pattern.findall(text) if label in labels)


def pid_file(stack: Stack, name: str) -> Path:
    return stack.run_dir / "pids" / f"{name}.pid"


def reap(stack: Stack, name: str) -> int | None:
    """The exit code of the service if its process has ended (reaping it), else None.

    ``Stack.pid`` sees an unreaped child (a zombie) as alive, so a supervisor
    must wait for its children itself.
    """
    try:
        pid = int(pid_file(stack, name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        # Not our child (or already reaped): alive if it still answers signal 0.
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return -1
        return None
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


async def kill(stack: Stack, name: str) -> None:
    await asyncio.to_thread(stack.kill, name)


async def terminate(stack: Stack, name: str) -> None:
    await asyncio.to_thread(stack.stop, name)


async def restart(stack: Stack, name: str, timeout: float = 120, attempts: int = 3) -> float:
    """Start ``name`` and wait until it is ready; returns the seconds it took.

    A worker may exit for a restart while it joins (code 75: records Faust
    dropped, docs/reliability.md); started again, as a restart policy would.
    """
    began = time.monotonic()
    for attempt in range(1, attempts + 1):
        stack.start(name)
        try:
            await asyncio.to_thread(stack.wait_ready, [name], timeout)
            return time.monotonic() - began
        except StackError:
            if stack.pid(name) is not None or attempt == attempts:
                raise
            print(f"{name} exited while joining (attempt {attempt}); starting it again")
    raise AssertionError("unreachable")


@dataclass
class Supervisor:
    """The orchestrator's part: notice a service that exited, note its exit code and,
    while ``restarting``, start it again (as a restart policy would)."""

    stack: Stack
    services: Sequence[str]
    restarting: bool = True
    exits: list[tuple[str, int, float]] = field(default_factory=list)
    restarts: int = 0

    def poll(self) -> None:
        for name in self.services:
            code = reap(self.stack, name)
            if code is not None:
                self.exits.append((name, code, time.monotonic()))
                pid_file(self.stack, name).unlink(missing_ok=True)
            if self.restarting and self.stack.pid(name) is None:
                self.stack.start(name)
                self.restarts += 1
