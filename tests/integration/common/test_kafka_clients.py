"""The shared client factory against a real broker."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka.admin import NewTopic
from aiokafka.structs import TopicPartition

from libs.common.kafka import (
    connection,
    create_admin,
    create_consumer,
    create_producer,
    holds_records,
    records_since,
)
from libs.common.settings import CommonSettings

pytestmark = __import__("pytest").mark.integration


async def _create_topic(settings: CommonSettings, name: str, partitions: int = 2) -> None:
    admin = create_admin(settings, client_id="test-admin")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def test_records_produced_by_the_factory_are_consumed_in_order_per_key(
    kafka_settings: CommonSettings,
) -> None:
    topic = f"{kafka_settings.topic_prefix}roundtrip"
    await _create_topic(kafka_settings, topic)
    producer = create_producer(kafka_settings, client_id="test-producer")
    consumer = create_consumer(
        kafka_settings, topic, client_id="test-consumer", group_id=f"g-{uuid.uuid4().hex}"
    )
    await producer.start()
    await consumer.start()
    try:
        for number in range(50):
            await producer.send(
                topic, key=f"customer-{number % 3}".encode(), value=str(number).encode()
            )
        await producer.flush()
        seen: dict[bytes, list[int]] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while sum(map(len, seen.values())) < 50 and loop.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    assert record.key is not None
                    assert record.value is not None
                    seen.setdefault(record.key, []).append(int(record.value))
    finally:
        await consumer.stop()
        await producer.stop()
    assert sum(map(len, seen.values())) == 50
    for key, values in seen.items():
        assert values == sorted(values), f"{key!r} out of order"


async def test_the_factory_producer_is_idempotent_with_acks_all(
    kafka_settings: CommonSettings,
) -> None:
    topic = f"{kafka_settings.topic_prefix}idempotent"
    await _create_topic(kafka_settings, topic, partitions=1)
    producer = create_producer(kafka_settings, client_id="test-idempotent")
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topic, b"v", key=b"k")
        # acks=all is -1 on the wire; idempotence means the broker handed out a
        # producer id and the client numbers its batches.
        assert producer._txn_manager is not None
        assert producer._txn_manager.producer_id >= 0
        assert producer._sender._acks == -1
        assert metadata.offset == 0
    finally:
        await producer.stop()


async def test_a_consumer_from_the_factory_commits_only_when_told(
    kafka_settings: CommonSettings,
) -> None:
    topic = f"{kafka_settings.topic_prefix}commits"
    await _create_topic(kafka_settings, topic, partitions=1)
    group = f"g-{uuid.uuid4().hex}"
    producer = create_producer(kafka_settings, client_id="test-commit-producer")
    await producer.start()
    await producer.send_and_wait(topic, b"one")
    await producer.stop()

    async def read_one() -> bytes | None:
        consumer = create_consumer(kafka_settings, topic, client_id="test-commit", group_id=group)
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), timeout=30)
            value: bytes | None = record.value
            return value
        finally:
            await consumer.stop()

    # Nothing was committed, so a restarted consumer of the same group sees it again.
    assert await read_one() == b"one"
    assert await read_one() == b"one"


async def test_the_offset_probe_tells_commit_markers_and_aborted_records_from_records(
    kafka_settings: CommonSettings,
) -> None:
    topic = f"{kafka_settings.topic_prefix}transactional"
    await _create_topic(kafka_settings, topic, partitions=1)
    producer = create_producer(
        kafka_settings, client_id="test-transactional", transactional_id=uuid.uuid4().hex
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"kept")  # 0, marker at 1
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"rolled back")  # 2, marker at 3
        await producer.abort_transaction()
    finally:
        await producer.stop()

    def probe(start: int, end: int) -> Any:
        return holds_records(connection(kafka_settings), topic, 0, start, end)

    assert await probe(0, 4)
    assert not await probe(1, 4), "a commit marker and an aborted record are no records"
    assert not await probe(1, 2)


async def test_reading_back_finds_what_was_sent_since_for_the_keys_of_a_partition(
    kafka_settings: CommonSettings,
) -> None:
    prefix = f"{kafka_settings.topic_prefix}rb{uuid.uuid4().hex[:6]}."
    source, alike, other = f"{prefix}source", f"{prefix}alike", f"{prefix}other"
    await _create_topic(kafka_settings, source, partitions=2)
    await _create_topic(kafka_settings, alike, partitions=2)
    await _create_topic(kafka_settings, other, partitions=3)
    now_ms = int(time.time() * 1000)
    producer = create_producer(kafka_settings, client_id="test-producer")
    await producer.start()
    try:
        for topic, partitions in ((alike, 2), (other, 3)):
            for partition in range(partitions):
                for label, stamp in (("old", now_ms - 120_000), ("new", now_ms)):
                    await producer.send_and_wait(
                        topic,
                        f"{label} {topic[-5:]} {partition}".encode(),
                        partition=partition,
                        timestamp_ms=stamp,
                    )
    finally:
        await producer.stop()

    found = await records_since(
        connection(kafka_settings),
        [alike, other],
        now_ms - 60_000,
        keys_of=TopicPartition(source, 1),
    )

    # Same partition count: only the partition the source's keys hash to. Another
    # count: every partition. Nothing stamped before ``since``.
    assert sorted(r.value for r in found if r.value is not None) == [
        b"new alike 1",
        b"new other 0",
        b"new other 1",
        b"new other 2",
    ]
