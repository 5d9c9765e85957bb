"""Kafka clients with safe defaults, so no service has to remember them.

Producers: ``acks=all`` and idempotence on (no duplicates from retries, no
reordering within a partition). Consumers: manual commits, earliest reset,
explicit client ids so the broker's logs and quotas say who is who.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

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


def producer_config(settings: CommonSettings, client_id: str, **overrides: Any) -> dict[str, Any]:
    config = {"bootstrap_servers": settings.kafka_bootstrap_servers, "client_id": client_id}
    config.update(PRODUCER_DEFAULTS)
    config.update(overrides)
    return config


def consumer_config(
    settings: CommonSettings, client_id: str, group_id: str | None, **overrides: Any
) -> dict[str, Any]:
    config = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "client_id": client_id,
        "group_id": group_id,
    }
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
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=client_id,
        request_timeout_ms=15_000,
    )


PROBE_SECONDS = 10.0


async def holds_records(
    bootstrap_servers: str,
    topic: str,
    partition: int,
    start: int,
    end: int,
) -> bool:
    """Whether offsets ``start`` to ``end - 1`` of a partition hold any record a
    read-committed consumer is given. Offsets can hold none: a transactional
    producer's commit markers, and its aborted records. TimeoutError if it could
    not tell within ``PROBE_SECONDS``."""
    tp = TopicPartition(topic, partition)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id="concierge-offset-probe",
        group_id=None,
        request_timeout_ms=int(PROBE_SECONDS * 1000),
        **CONSUMER_DEFAULTS,
    )
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
