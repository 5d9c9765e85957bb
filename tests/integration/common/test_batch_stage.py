"""The batch adapter (libs/common/batch_stage.py) on a real broker, with RocksDB tables.

A small counting stage (tests/support/counting_stage.py) runs as its own
process: per key it counts records in a table with a changelog and emits
``key:count:offset:worker`` per record.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from libs.common.fetch_pace import GATHERING, WAITING, FetchPace
from libs.common.kafka import create_producer
from libs.common.settings import CommonSettings
from tests.conftest import REPO
from tests.support.kafka_io import Seen, end_offsets, produce, read_all, wait_for
from tests.support.stack import free_port

pytestmark = pytest.mark.integration
KEYS = [f"k{n}" for n in range(10)]


class Worker:
    def __init__(self, settings: CommonSettings, data_dir: Path, name: str, single: bool) -> None:
        self.port = free_port()
        self.name = name
        env = dict(
            os.environ,
            COUNTING_BOOTSTRAP=settings.kafka_bootstrap_servers,
            COUNTING_PREFIX=settings.topic_prefix,
            COUNTING_PORT=str(self.port),
            COUNTING_DATA_DIR=str(data_dir),
            COUNTING_WORKER=name,
            COUNTING_SINGLE_WRITER="1" if single else "0",
        )
        self.log = open(data_dir.parent / f"{name}-{uuid.uuid4().hex[:6]}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.counting_stage"],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def count(self, key: str) -> int | None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.port}/counts/{key}", timeout=2)
        except httpx.HTTPError:
            return None
        return answer.json()["count"] if answer.status_code == 200 else None

    def pace(self) -> FetchPace | None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.port}/fetch-pace", timeout=2)
        except httpx.HTTPError:
            return None
        pace = answer.json()["pace"] if answer.status_code == 200 else None
        return None if pace is None else FetchPace(*pace)

    def assignments(self) -> int | None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.port}/assignments", timeout=2)
        except httpx.HTTPError:
            return None
        return int(answer.json()["assignments"]) if answer.status_code == 200 else None

    def answers(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/counts/k0", timeout=2).is_success
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
async def counting(kafka_settings: CommonSettings) -> CommonSettings:
    prefix = kafka_settings.topic_prefix
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(f"{prefix}counting.in", 2, 1),
                NewTopic(f"{prefix}counting.out", 2, 1),
                NewTopic(f"{prefix}counting.dlq", 1, 1),
                NewTopic(
                    f"{prefix}concierge-counting-counts-changelog",
                    2,
                    1,
                    topic_configs={"cleanup.policy": "compact"},
                ),
            ]
        )
    finally:
        await admin.close()
    return kafka_settings


class Workers(list[Worker]):
    """The stage's workers a test started, each with a data dir of its own; stopped
    after the test."""

    def __init__(self, settings: CommonSettings, tmp_path: Path) -> None:
        super().__init__()
        self._settings = settings
        self._tmp_path = tmp_path

    def start(self, name: str, single: bool = False) -> Worker:
        worker = Worker(self._settings, self._tmp_path / name, name, single)
        self.append(worker)
        return worker


@pytest.fixture
def workers(counting: CommonSettings, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(counting, tmp_path)
    yield started
    for worker in started:
        worker.stop()


async def all_committed(settings: CommonSettings) -> None:
    """Wait until the stage's group has committed every input record."""
    ends = await end_offsets(settings, [f"{settings.topic_prefix}counting.in"])
    wanted = {tp.partition: end for tp, end in ends.items()}

    async def done() -> bool:
        return await committed(settings) == wanted

    await wait_for(done, timeout=30, what="offsets committed to the end")


def outputs_by_key(records: list[Seen]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for record in records:
        key, count, _offset, _worker = (record.value or b"").decode().split(":")
        found.setdefault(key, []).append(int(count))
    return found


async def outputs(settings: CommonSettings, at_least: int, timeout: float = 90) -> list[Seen]:
    """Every record on the stage's output topic, once there are at least ``at_least``."""

    async def enough() -> list[Seen]:
        seen = await read_all(settings, [f"{settings.topic_prefix}counting.out"])
        return seen if len(seen) >= at_least else []

    result: list[Seen] = await wait_for(enough, timeout=timeout, what=f"{at_least} outputs")
    return result


async def committed(settings: CommonSettings) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(
            f"{settings.topic_prefix}concierge-counting"
        )
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if "counting.in" in tp.topic}


async def test_batches_count_in_order_dead_letter_a_bug_and_commit_what_they_delivered(
    counting: CommonSettings, workers: Workers
) -> None:
    prefix = counting.topic_prefix
    workers.start("w1")
    records = [(f"{prefix}counting.in", key.encode(), b"x") for _ in range(30) for key in KEYS]
    records.insert(150, (f"{prefix}counting.in", b"k3", b"boom"))
    await produce(counting, records)

    out = await outputs(counting, 300)
    assert len(out) == 300  # nothing twice
    # Each key's count went 1, 2, ... 30 in input order: the bug's staged write was dropped.
    assert outputs_by_key(out) == {key: list(range(1, 31)) for key in KEYS}
    letters = await read_all(counting, [f"{prefix}counting.dlq"])
    assert len(letters) == 1
    assert letters[0].json()["error"]["code"] == "internal_error"

    await all_committed(counting)
    assert workers[0].count("k3") == 30


async def test_an_idle_stage_waits_on_the_broker_and_gathers_while_records_come(
    counting: CommonSettings, workers: Workers
) -> None:
    prefix = counting.topic_prefix
    worker = workers.start("w1")
    # Nothing to read: any byte answers a fetch, held by the broker meanwhile.
    await wait_for(lambda: worker.pace() == WAITING, timeout=90, what="the idle stage waiting")

    producer = create_producer(counting, client_id="test-stream")
    await producer.start()
    sent = 0
    try:
        # A stream of some hundreds a second: while it lasts the stage gathers
        # (32 KiB or 10 ms per fetch).
        async def stream_until_gathering() -> bool:
            nonlocal sent
            deliveries = []
            for _ in range(50):
                key = KEYS[sent % len(KEYS)].encode()
                deliveries.append(await producer.send(f"{prefix}counting.in", b"x", key=key))
                sent += 1
            await asyncio.gather(*deliveries)
            return worker.pace() == GATHERING

        await wait_for(stream_until_gathering, timeout=60, what="gathering under a stream")
    finally:
        await producer.stop()

    # Quiet again: back to waiting, and the switches lost nothing.
    await wait_for(lambda: worker.pace() == WAITING, timeout=30, what="waiting once idle again")

    out = await outputs(counting, sent, timeout=60)
    assert len(out) == sent
    # Each key counted 1, 2, ... in order across the switches, nothing twice.
    counts = outputs_by_key(out)
    assert counts == {key: list(range(1, len(values) + 1)) for key, values in counts.items()}


async def test_a_worker_with_an_empty_data_dir_recovers_the_table_from_the_changelog(
    counting: CommonSettings, workers: Workers
) -> None:
    prefix = counting.topic_prefix
    first = workers.start("first")
    # Enough keys that recovery reads many changelog records per fetch: all but
    # the last of each go straight into RocksDB (BatchConsumer._restore).
    many = [f"m{n}" for n in range(400)]
    await produce(
        counting,
        [(f"{prefix}counting.in", key.encode(), b"x") for key in KEYS * 5 + many],
    )

    await outputs(counting, 450)
    await all_committed(counting)
    first.kill()

    second = workers.start("second")  # an empty data dir
    await wait_for(lambda: second.count("k0") == 5, timeout=90, what="k0 recovered as 5")
    assert [second.count(key) for key in KEYS] == [5] * len(KEYS)
    assert [second.count(key) for key in many] == [1] * len(many)
    await produce(counting, [(f"{prefix}counting.in", key.encode(), b"x") for key in KEYS])

    out = await outputs(counting, 460)
    assert len(out) == 460
    by_key = outputs_by_key(out)
    assert {key: by_key[key] for key in KEYS} == {key: [1, 2, 3, 4, 5, 6] for key in KEYS}


async def test_a_single_writer_stage_keeps_every_partition_on_one_worker(
    counting: CommonSettings, workers: Workers
) -> None:
    prefix = counting.topic_prefix
    first = workers.start("a", single=True)
    await produce(counting, [(f"{prefix}counting.in", key.encode(), b"x") for key in KEYS])

    await outputs(counting, 10)
    assigned_before = first.assignments()
    assert assigned_before is not None
    assert assigned_before >= 1
    second = workers.start("b", single=True)
    # The second worker joins (a rebalance) and must get no partition to write.
    await wait_for(second.answers, timeout=90, what="b's web up")
    # The writer's handler hears of the new assignment (and drops what it keeps
    # of partitions it may no longer own).
    await wait_for(
        lambda: (first.assignments() or 0) > assigned_before,
        timeout=90,
        what="a told of the rebalance",
    )
    for round_number in range(3):
        await produce(counting, [(f"{prefix}counting.in", key.encode(), b"x") for key in KEYS])
        out = await outputs(counting, 20 + 10 * round_number)
    writers = {(record.value or b"").decode().split(":")[3] for record in out}
    assert writers == {"a"}
    assert outputs_by_key(out) == {key: [1, 2, 3, 4] for key in KEYS}
    # The writer goes (once it committed what it counted: the counting handler is
    # not idempotent): the standby takes every partition over and counts on.
    await all_committed(counting)
    first.kill()
    await produce(counting, [(f"{prefix}counting.in", key.encode(), b"x") for key in KEYS])
    out = await outputs(counting, 50, timeout=120)
    assert outputs_by_key(out) == {key: [1, 2, 3, 4, 5] for key in KEYS}
    fifth = [(record.value or b"").decode().split(":") for record in out]
    assert {worker for _key, count, _offset, worker in fifth if count == "5"} == {"b"}
