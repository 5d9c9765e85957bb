"""How long stage 2 (decision) takes to recover N customers' contexts from its changelog.

    .venv/bin/python -m bench.recovery_bench [--customers 100000] [--bootstrap 127.0.0.1:9092]

Fills stage 2's customer-contexts changelog with N realistic contexts (the
sizes the context stage produces: built by the real reducers from simulated
journeys), then starts a decision worker with an empty data directory and
times start -> /ready, which Faust reports only once every table partition is
recovered. Baseline in the same run, on the same broker: the same worker
started against an empty changelog. The difference is the recovery itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka.admin import NewTopic

from libs.common.kafka import create_admin, create_producer
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.context.model import CustomerContext
from libs.context.reducers import apply_event
from libs.contract.interaction import InteractionEvent
from services.cli.stack import SERVICES, Stack, local_secrets
from services.simulator.journeys import journey_for, stamped

CHANGELOG = "concierge-decision-customer-contexts-changelog"


def sample_contexts(count: int, seed: int) -> list[CustomerContext]:
    """Distinct realistic contexts to copy: one per simulated journey."""
    now = datetime.now(UTC)
    contexts = []
    for number in range(1, count + 1):
        context = None
        customer = f"C-{number}"
        for step in journey_for(number, seed):
            event = InteractionEvent.model_validate(stamped(step.event, now))
            context = apply_event(context, event, customer, False, now)
        if context is not None:
            contexts.append(context)
    return contexts


async def fill_changelog(settings: CommonSettings, customers: int) -> int:
    topic = f"{settings.topic_prefix}{CHANGELOG}"
    admin = create_admin(settings, client_id="recovery-bench")
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, settings.partitions, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    finally:
        await admin.close()
    samples = [context.to_bytes() for context in sample_contexts(200, seed=3)]
    producer = create_producer(
        settings, client_id="recovery-bench", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    total = 0
    try:
        for number in range(customers):
            key = f"C-{number}".encode()
            value = samples[number % len(samples)]
            total += len(value)
            # Faust restores a changelog partition into the same table partition.
            partition = number % settings.partitions
            await producer.send(topic, value, key=key, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()
    return total


def time_to_ready(settings: CommonSettings, run_dir: Path, customers: int = 0) -> tuple[float, int]:
    """Seconds from start to /ready, and how many of 200 sampled customers (of
    ``customers``) the recovered worker then answers a context for."""
    spec = next(s for s in SERVICES if s.name == "decision")
    env = {
        "CONCIERGE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "CONCIERGE_TOPIC_PREFIX": settings.topic_prefix,
        "CONCIERGE_PARTITIONS": str(settings.partitions),
        "CONCIERGE_LOG_FORMAT": "json",
        "PATH": "/usr/bin:/bin",
        **local_secrets(run_dir),
    }
    stack = Stack(run_dir, env, [spec])
    started = time.monotonic()
    stack.start("decision")
    try:
        stack.wait_ready(["decision"], timeout=900)
        took = time.monotonic() - started
        sample = random.Random(5).sample(range(customers), min(200, customers))
        found = sum(
            httpx.get(f"{stack.url('decision')}/v1/customers/C-{n}/context", timeout=10).status_code
            == 200
            for n in sample
        )
        return took, found
    finally:
        stack.down()


async def prepared(bootstrap: str, partitions: int) -> CommonSettings:
    settings = CommonSettings(
        kafka_bootstrap_servers=bootstrap,
        partitions=partitions,
        topic_prefix=f"rec{uuid.uuid4().hex[:6]}.",
    )
    report = await provision(settings)
    if not report.ok:
        raise SystemExit(f"provisioning failed: {report}")
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    baseline_settings = asyncio.run(prepared(args.bootstrap, args.partitions))
    filled_settings = asyncio.run(prepared(args.bootstrap, args.partitions))
    fill_started = time.monotonic()
    stored = asyncio.run(fill_changelog(filled_settings, args.customers))
    fill_seconds = time.monotonic() - fill_started
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as full:
        baseline, _ = time_to_ready(baseline_settings, Path(empty))
        recovered, found = time_to_ready(filled_settings, Path(full), args.customers)
        on_disk = sum(p.stat().st_size for p in Path(full).rglob("*") if p.is_file())
        shutil.rmtree(full, ignore_errors=True)
    recovery = recovered - baseline
    figures = {
        "customers": args.customers,
        "changelog_bytes": stored,
        "bytes_per_customer_changelog": round(stored / args.customers),
        "rocksdb_bytes_after_recovery": on_disk,
        "fill_seconds": round(fill_seconds, 1),
        "ready_seconds_empty_changelog": round(baseline, 1),
        "ready_seconds_full_changelog": round(recovered, 1),
        "recovery_seconds": round(recovery, 1),
        "customers_recovered_per_second": round(args.customers / recovery)
        if recovery > 0
        else None,
        "sampled_customers_answered": f"{found} of {min(200, args.customers)}",
    }
    for name, value in figures.items():
        print(f"{name:<34} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
