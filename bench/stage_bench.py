"""CPU per event of each stage's handler alone: no broker, no Faust, dict tables.

    .venv/bin/python -m bench.stage_bench [--events 20000] [--flush-every 1000]
        [--customers 2000] > /dev/null

Feeds the same simulator events as the drain benchmark through
``IntakeHandler`` (stage 1) and what it resolves through ``DecisionHandler``
(stage 2), each record staged and applied as the batch adapter does, and
prints µs per input record per stage. Like the adapter's flusher, it encodes
what a handler put decoded once per key per flush (``--flush-every`` records:
a drain's rounds hold thousands, live ones a few). Next to
``bench.drain_bench`` (the whole process per stage, Kafka and Faust included)
it says how much of a stage's cost is its own logic and how much the adapter
and clients around it.

Then, on the same resolved records in the same process, the three steps every
event goes through in stage 2 of this two-stage design, as this code does them:
decoding its record, the context reducers (``apply_event``) and ``decide``, in the
handler's order with each step's CPU counted apart (the clock's own cost taken
out), over state kept decoded in dicts (no tables, no encoding, no decision log,
no metrics, no Kafka). Their sum, per record as the handler's figure is, is a
floor under stage 2's CPU with this code, printed beside the handler and the
whole stage's target (issue 13: 150 µs per event, Kafka included).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import NamedTuple

import orjson
from prometheus_client import CollectorRegistry

from bench.e2e.payloads import step_plan
from libs.common.batch import (
    DictTable,
    InputRecord,
    Output,
    RecordHandler,
    TableValue,
    run_staged,
)
from libs.common.logging import configure_logging
from libs.common.topics import TopicNames
from libs.context.model import CustomerContext
from libs.context.reducers import apply_event
from libs.pipeline.envelopes import decode_resolved
from services.decision.domain.catalogue import DecisionConfig, load_config
from services.decision.domain.decide import decide
from services.decision.domain.history import ContactHistory
from services.decision.handler import CONTEXTS, HISTORIES, TIMELINE, DecisionHandler
from services.decision.handler import TABLES as DECISION_TABLES
from services.decision.settings import DecisionSettings
from services.intake.handler import TABLES, IntakeHandler, IntakeMetrics
from services.intake.routing import IntakeLimits
from services.simulator.journeys import stamped

NAMES = TopicNames("")
STAGE_2_TARGET_US = 150  # issue 13: CPU per event of the whole stage, Kafka included


class PureSteps(NamedTuple):
    """Seconds of CPU per step over a stream of resolved records, the clock's own
    cost taken out, and the state the steps left."""

    decode: float  # every record
    reducers: float  # the events among them
    decide: float  # including the dict lookup of the customer's contact history
    records: int
    events: int
    contexts: dict[str, CustomerContext]
    histories: dict[str, ContactHistory]

    def per_record_us(self) -> tuple[float, float, float]:
        """Each step's µs per record: the handler's unit, and the lower figure of
        the two, as a few records in a hundred (merges, erasures) decide nothing."""
        scale = 1e6 / max(1, self.records)
        return self.decode * scale, self.reducers * scale, self.decide * scale


def clock_cost_ns(clock: Callable[[], int], calls: int = 100_000) -> float:
    """What one reading of ``clock`` costs (the least of five tries): a CPU-time
    clock is a system call, about 1 µs here, and each step's interval holds about
    one reading's cost (the end of the reading before it, the start of its own)."""
    tries = []
    for _ in range(5):
        began = clock()
        for _ in range(calls):
            clock()
        tries.append((clock() - began) / calls)
    return min(tries)


def pure_steps(values: list[bytes], config: DecisionConfig, now: datetime) -> PureSteps:
    """Decode, ``apply_event`` and ``decide`` over ``values`` (resolved records) in
    the handler's order, each step's CPU counted apart; the state stays decoded in
    dicts, so nothing is read from or written to a table. Merges, erasures and
    expiries are decoded and not applied."""
    clock = time.process_time_ns
    catalogue, policies = config.catalogue, config.policies
    contexts: dict[str, CustomerContext] = {}
    histories: dict[str, ContactHistory] = {}
    decode = reducers = deciding = events = 0
    for value in values:
        began = clock()
        record = decode_resolved(value)
        decoded = clock()
        decode += decoded - began
        event = record.event
        if record.kind != "event" or event is None:
            continue
        customer_id = record.customer_id
        context = apply_event(
            contexts.get(customer_id), event, customer_id, record.provisional, now
        )
        applied = clock()
        history = histories.get(customer_id) or ContactHistory.empty(customer_id)
        histories[customer_id] = decide(event, context, history, catalogue, policies, now).history
        decided = clock()
        contexts[customer_id] = context
        reducers += applied - decoded
        deciding += decided - applied
        events += 1
    # Each interval holds one reading of the clock.
    reading = clock_cost_ns(clock)
    return PureSteps(
        (decode - reading * len(values)) / 1e9,
        (reducers - reading * events) / 1e9,
        (deciding - reading * events) / 1e9,
        len(values),
        events,
        contexts,
        histories,
    )


class FlushedTable(DictTable):
    """A ``DictTable`` that, like the adapter's flusher, encodes what was put
    (``Unencoded`` values) once per key per flush."""

    def __init__(self) -> None:
        super().__init__()
        self.written: set[str] = set()

    def put(self, key: str, value: TableValue) -> None:
        super().put(key, value)
        self.written.add(key)

    def flush(self) -> None:
        for key in self.written:
            self.get(key)
        self.written.clear()


def run_stage(
    handler: RecordHandler,
    records: list[InputRecord],
    tables: Mapping[str, FlushedTable],
    flush_every: int,
    now: datetime,
) -> tuple[float, list[Output]]:
    """Seconds of CPU for ``records`` (a flush every ``flush_every`` of them), and
    what they produced."""
    outputs: list[Output] = []
    began = time.process_time()
    for number, record in enumerate(records, 1):
        outputs.extend(run_staged(partial(handler.handle, record, now=now), tables))
        if number % flush_every == 0 or number == len(records):
            for table in tables.values():
                table.flush()
    return time.process_time() - began, outputs


def simulated_inputs(events: int, customers: int, seed: int, start: datetime) -> list[InputRecord]:
    """The simulator's journeys of ``customers`` people as ``events`` channel records."""
    planned = step_plan(500.0, events / 500.0, customers, seed, 0)
    return [
        InputRecord(
            NAMES.interactions(item.channel),
            0,
            number,
            0.0,
            item.key,
            orjson.dumps(stamped(item.event, start + timedelta(microseconds=number))),
        )
        for number, item in enumerate(planned)
    ]


def inputs_from(outputs: list[Output]) -> list[InputRecord]:
    """One stage's outputs as the next one's input records."""
    return [
        InputRecord(output.topic, 0, number, 0.0, output.key, output.value)
        for number, output in enumerate(outputs)
    ]


def intake_handler() -> IntakeHandler:
    return IntakeHandler(
        NAMES,
        IntakeLimits(pii_key=b"bench-only-pii-hashing-key"),
        timedelta(days=30),
        IntakeMetrics.create(CollectorRegistry()),
    )


def decision_handler(config: DecisionConfig) -> DecisionHandler:
    return DecisionHandler(
        config, NAMES, anonymous_ttl=timedelta(days=30), registry=CollectorRegistry()
    )


def report(line: str) -> None:
    print(line, file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--flush-every",
        type=int,
        default=1000,
        help="records per flush (a drain's rounds hold thousands; live ones a few)",
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=2000,
        help="whose journeys the events are: fewer, more events each (fuller state)",
    )
    args = parser.parse_args()
    # As the services run: INFO, JSON lines to stdout (decisions log at DEBUG),
    # which goes wherever the caller sends it; the figures go to stderr.
    configure_logging("INFO", "json")

    now = datetime.now(UTC)
    inputs = simulated_inputs(args.events, args.customers, args.seed, now - timedelta(minutes=1))
    intake_seconds, resolved = run_stage(
        intake_handler(), inputs, {name: FlushedTable() for name in TABLES}, args.flush_every, now
    )
    settings = DecisionSettings()
    config = load_config(settings.catalogue_path, settings.policies_path)
    decision_inputs = inputs_from(resolved)
    decision_tables = {name: FlushedTable() for name in DECISION_TABLES}
    decision_seconds, outputs = run_stage(
        decision_handler(config), decision_inputs, decision_tables, args.flush_every, now
    )
    decision_per_record = 1e6 * decision_seconds / len(decision_inputs)
    contexts = decision_tables[CONTEXTS].snapshot()
    histories = decision_tables[HISTORIES].snapshot()
    report(f"{len(inputs):,} input records, {len(resolved):,} resolved, {len(outputs):,} outputs")
    report(f"stage 1 handler (intake):   {1e6 * intake_seconds / len(inputs):7.1f} µs per record")
    report(f"stage 2 handler (decision): {decision_per_record:7.1f} µs per record")
    report(
        f"bytes per customer: context {sum(map(len, contexts.values())) / len(contexts):,.0f}, "
        f"contact history {sum(map(len, histories.values())) / max(1, len(histories)):,.0f} "
        f"({len(contexts):,} customers)"
    )
    logged = [len(out.value or b"") for out in outputs if out.topic == NAMES.decision_log]
    timelines = decision_tables[TIMELINE].snapshot()
    per_customer = sum(map(len, timelines.values())) / max(1, len(contexts))
    report(
        f"decision log: {len(logged):,} records, {sum(logged) / max(1, len(logged)):,.0f} bytes "
        f"each (sealed); timeline (index and kept records) {per_customer:,.0f} bytes "
        "per customer"
    )
    steps = pure_steps([record.value or b"" for record in decision_inputs], config, now)
    decode_us, reducers_us, decide_us = steps.per_record_us()
    floor_us = decode_us + reducers_us + decide_us
    report(
        f"stage 2's floor (decode, reducers, decide; nothing else), µs per record: decode"
        f" {decode_us:.1f} + reducers {reducers_us:.1f} + decide {decide_us:.1f}"
        f" = {floor_us:.1f}: {floor_us / decision_per_record:.0%} of the handler,"
        f" {floor_us / STAGE_2_TARGET_US:.2f}x the whole stage's target"
        f" ({STAGE_2_TARGET_US} µs per event, Kafka included)"
    )


if __name__ == "__main__":
    main()
