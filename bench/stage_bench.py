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
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial

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
from services.decision.domain.catalogue import load_config
from services.decision.handler import CONTEXTS, HISTORIES, TIMELINE, DecisionHandler
from services.decision.handler import TABLES as DECISION_TABLES
from services.decision.settings import DecisionSettings
from services.intake.handler import TABLES, IntakeHandler, IntakeMetrics
from services.intake.routing import IntakeLimits
from services.simulator.journeys import stamped

NAMES = TopicNames("")


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
) -> tuple[float, list[Output]]:
    """Seconds of CPU for ``records`` (a flush every ``flush_every`` of them), and
    what they produced."""
    outputs: list[Output] = []
    now = datetime.now(UTC)
    began = time.process_time()
    for number, record in enumerate(records, 1):
        outputs.extend(run_staged(partial(handler.handle, record, now=now), tables))
        if number % flush_every == 0 or number == len(records):
            for table in tables.values():
                table.flush()
    return time.process_time() - began, outputs


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
    # As the services run: INFO, JSON lines (each decision logs one) to stdout,
    # which goes wherever the caller sends it; the figures go to stderr.
    configure_logging("INFO", "json")

    planned = step_plan(500.0, args.events / 500.0, args.customers, args.seed, 0)
    start = datetime.now(UTC) - timedelta(minutes=1)
    inputs = [
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
    intake = IntakeHandler(
        NAMES,
        IntakeLimits(pii_key=b"bench-only-pii-hashing-key"),
        timedelta(days=30),
        IntakeMetrics.create(CollectorRegistry()),
    )
    intake_seconds, resolved = run_stage(
        intake, inputs, {name: FlushedTable() for name in TABLES}, args.flush_every
    )
    settings = DecisionSettings()
    decision = DecisionHandler(
        load_config(settings.catalogue_path, settings.policies_path),
        NAMES,
        anonymous_ttl=timedelta(days=30),
        registry=CollectorRegistry(),
    )
    decision_inputs = [
        InputRecord(output.topic, 0, number, 0.0, output.key, output.value)
        for number, output in enumerate(resolved)
    ]
    decision_tables = {name: FlushedTable() for name in DECISION_TABLES}
    decision_seconds, outputs = run_stage(
        decision, decision_inputs, decision_tables, args.flush_every
    )
    contexts = decision_tables[CONTEXTS].snapshot()
    histories = decision_tables[HISTORIES].snapshot()
    report(f"{len(inputs):,} input records, {len(resolved):,} resolved, {len(outputs):,} outputs")
    report(f"stage 1 handler (intake):   {1e6 * intake_seconds / len(inputs):7.1f} µs per record")
    report(
        f"stage 2 handler (decision): {1e6 * decision_seconds / len(decision_inputs):7.1f} µs "
        "per record"
    )
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


if __name__ == "__main__":
    main()
