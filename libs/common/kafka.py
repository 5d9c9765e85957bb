"""Kafka clients with safe defaults, so no service has to remember them.

Producers: ``acks=all`` and idempotence on (no duplicates from retries, no
reordering within a partition). Consumers: manual commits, earliest reset,
explicit client ids so the broker's logs and quotas say who is who. Every
client connects with the deployment's security settings (``connection``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from libs.common.kafka_security import client_security
from libs.common.settings import CommonSettings

PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    # A small linger batches bursts without adding noticeable latency.
    "linger_ms": 5,
    "request_timeout_ms": 30_000,
}

CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "isolation_level": "read_committed",
}


def connection(settings: CommonSettings) -> dict[str, Any]:
    """Where the brokers are and how to authenticate to them: every client's first options."""
    return {"bootstrap_servers": settings.kafka_bootstrap_servers, **client_security(settings)}


def producer_config(settings: CommonSettings, client_id: str, **overrides: Any) -> dict[str, Any]:
    config = {**connection(settings), "client_id": client_id}
    config.update(PRODUCER_DEFAULTS)
    config.update(overrides)
    return config


def consumer_config(
    settings: CommonSettings, client_id: str, group_id: str | None, **overrides: Any
) -> dict[str, Any]:
    config = {**connection(settings), "client_id": client_id, "group_id": group_id}
    config.update(CONSUMER_DEFAULTS)
    config.update(overrides)
    return config


def create_producer(settings: CommonSettings, client_id: str, **overrides: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**producer_config(settings, client_id, **overrides))


def create_consumer(
    settings: CommonSettings,
    *topics: str,
    client_id: str,
    group_id: str | None,
    **overrides: Any,
) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **consumer_config(settings, client_id, group_id, **overrides))


def create_admin(settings: CommonSettings, client_id: str) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        **connection(settings),
        client_id=client_id,
        request_timeout_ms=15_000,
    )


PROBE_SECONDS = 10.0


def _reader(kafka: Mapping[str, Any], client_id: str, seconds: float) -> AIOKafkaConsumer:
    """A read-committed consumer outside any group, for a bounded look at a topic."""
    return AIOKafkaConsumer(
        **kafka,
        client_id=client_id,
        group_id=None,
        request_timeout_ms=int(seconds * 1000),
        **CONSUMER_DEFAULTS,
    )


async def holds_records(
    kafka: Mapping[str, Any],
    topic: str,
    partition: int,
    start: int,
    end: int,
) -> bool:
    """Whether offsets ``start`` to ``end - 1`` of a partition hold any record a
    read-committed consumer is given. Offsets can hold none: a transactional
    producer's commit markers, and its aborted records. TimeoutError if it could
    not tell within ``PROBE_SECONDS``. ``kafka``: a ``connection``."""
    tp = TopicPartition(topic, partition)
    consumer = _reader(kafka, "concierge-offset-probe", PROBE_SECONDS)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PROBE_SECONDS
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        while loop.time() < deadline:
            records = (await consumer.getmany(tp, timeout_ms=500)).get(tp, [])
            if records:
                return bool(records[0].offset < end)
            if await consumer.position(tp) >= end:
                return False
        raise TimeoutError(f"no answer from {topic}[{partition}] in {PROBE_SECONDS:.0f}s")
    finally:
        await consumer.stop()


READ_BACK_SECONDS = 30.0


async def records_since(
    kafka: Mapping[str, Any],
    topics: Sequence[str],
    since_ms: int,
    *,
    keys_of: TopicPartition,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The committed records of ``topics`` stamped at or after ``since_ms``, up to
    each partition's end as of the call, from the partitions that records keyed
    as those of ``keys_of`` are sent to: the same partition number where a topic
    has as many partitions as ``keys_of.topic`` (the producers' default
    partitioner hashes a key alike for both), every partition otherwise.
    TimeoutError if not read within ``READ_BACK_SECONDS``."""
    consumer = _reader(kafka, "concierge-read-back", READ_BACK_SECONDS)
    await consumer.start()
    try:
        async with asyncio.timeout(READ_BACK_SECONDS):
            # Cluster metadata, which partitions_for_topic reads (topics() does not fill it).
            await consumer._client.force_metadata_update()

            def partitions_of(topic: str) -> list[int]:
                found = consumer.partitions_for_topic(topic)
                if not found:  # guessing would read too little back
                    raise KafkaError(f"no partitions known for {topic}")
                return sorted(found)

            source_count = len(partitions_of(keys_of.topic))
            tps: list[TopicPartition] = []
            for topic in topics:
                numbers = partitions_of(topic)
                if len(numbers) == source_count:
                    numbers = [keys_of.partition]
                tps.extend(TopicPartition(topic, number) for number in numbers)
            if not tps:
                return []
            starts = await consumer.offsets_for_times(dict.fromkeys(tps, since_ms))
            ends = await consumer.end_offsets(tps)
            todo = {
                tp: found.offset
                for tp, found in starts.items()
                if found is not None and found.offset < ends[tp]
            }
            if not todo:
                return []
            consumer.assign(list(todo))
            for tp, offset in todo.items():
                consumer.seek(tp, offset)
            found_records: list[ConsumerRecord[bytes, bytes]] = []
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=500)
                for tp, records in batch.items():
                    found_records.extend(r for r in records if r.offset < ends[tp])
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        del todo[tp]
            return found_records
    finally:
        await consumer.stop()
