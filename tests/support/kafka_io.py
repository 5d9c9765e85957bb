"""Produce and consume on a real broker from tests, with deadlines, never sleeps."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import TopicPartition

from libs.common.kafka import create_consumer, create_producer
from libs.common.settings import CommonSettings


@dataclass(frozen=True)
class Produced:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None

    def json(self) -> Any:
        assert self.value is not None
        return orjson.loads(self.value)


async def produce(
    settings: CommonSettings, records: Iterable[tuple[str, bytes | None, bytes | None]]
) -> list[Produced]:
    """Send (topic, key, value) records in order; returns where each landed."""
    producer = create_producer(settings, client_id="test-producer")
    await producer.start()
    try:
        landed = []
        for topic, key, value in records:
            metadata = await producer.send_and_wait(topic, value, key=key)
            landed.append(Produced(topic, metadata.partition, metadata.offset))
        return landed
    finally:
        await producer.stop()


def event_bytes(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


async def consume_until(
    settings: CommonSettings,
    topics: list[str],
    done: Callable[[list[Consumed]], bool],
    timeout: float = 60.0,
) -> list[Consumed]:
    """Everything on ``topics`` from the start until ``done(seen)`` or the deadline."""
    consumer = create_consumer(
        settings, *topics, client_id="test-consumer", group_id=f"test-{uuid.uuid4().hex}"
    )
    await consumer.start()
    seen: list[Consumed] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while not done(seen):
            if loop.time() > deadline:
                raise TimeoutError(
                    f"gave up after {timeout}s with {len(seen)} records from {topics}"
                )
            batches = await consumer.getmany(timeout_ms=250)
            for partition, records in batches.items():
                seen.extend(
                    Consumed(partition.topic, partition.partition, r.offset, r.key, r.value)
                    for r in records
                )
        return seen
    finally:
        await consumer.stop()


async def wait_for(
    condition: Callable[[], Any],
    timeout: float = 60.0,
    what: str = "condition",
    *,
    interval: float = 0.1,
) -> Any:
    """Poll ``condition`` (sync or async) every ``interval`` seconds until it returns
    something truthy, or fail after the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not met within {timeout}s")
        await asyncio.sleep(interval)


async def end_offsets(settings: CommonSettings, topics: Sequence[str]) -> dict[TopicPartition, int]:
    consumer = create_consumer(settings, client_id="test-offsets", group_id=None)
    await consumer.start()
    try:
        partitions: list[TopicPartition] = []
        for topic in topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                await consumer._client.force_metadata_update()
                found = consumer.partitions_for_topic(topic) or set()
            partitions.extend(TopicPartition(topic, p) for p in sorted(found))
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Seen:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int

    def json(self) -> Any:
        return orjson.loads(self.value or b"null")


async def read_all(settings: CommonSettings, topics: Sequence[str]) -> list[Seen]:
    """Every record on ``topics`` from the start up to their end offsets now."""
    ends = await end_offsets(settings, topics)
    wanted = {tp: end for tp, end in ends.items() if end > 0}
    if not wanted:
        return []
    consumer = create_consumer(
        settings, client_id="test-reader", group_id=None, max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    seen: list[Seen] = []
    try:
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        deadline = time.monotonic() + 120
        pending = dict(wanted)
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topics} to their end")
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                for r in records:
                    if r.offset < wanted[tp]:
                        seen.append(
                            Seen(tp.topic, tp.partition, r.offset, r.key, r.value, r.timestamp)
                        )
                if records and records[-1].offset + 1 >= wanted[tp]:
                    pending.pop(tp, None)
            for tp in list(pending):
                if await consumer.position(tp) >= wanted[tp]:
                    pending.pop(tp)
        return seen
    finally:
        await consumer.stop()
