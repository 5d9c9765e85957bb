"""Round-trip smoke test through the shared Kafka factory: produce, consume, time it.

What `make run` does until the full demo exists: proves the broker, the topic
registry and the client defaults work together on this machine.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from aiokafka.admin import NewTopic

from libs.common.kafka import create_admin, create_consumer, create_producer
from libs.common.settings import CommonSettings


@dataclass(frozen=True)
class SmokeResult:
    topic: str
    sent: int
    received: int
    seconds: float


async def run_smoke(
    settings: CommonSettings, messages: int = 100, wait_seconds: float = 30.0
) -> SmokeResult:
    topic = f"{settings.topic_prefix}concierge.smoke.{uuid.uuid4().hex[:8]}"
    admin = create_admin(settings, client_id="concierge-smoke")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, settings.replication_factor)])
    finally:
        await admin.close()
    producer = create_producer(settings, client_id="concierge-smoke-producer")
    consumer = create_consumer(
        settings,
        topic,
        client_id="concierge-smoke-consumer",
        group_id=f"concierge-smoke-{uuid.uuid4().hex[:8]}",
    )
    started = time.perf_counter()
    await producer.start()
    await consumer.start()
    received = 0
    try:
        for number in range(messages):
            await producer.send(topic, key=f"k{number % 7}".encode(), value=f"{number}".encode())
        await producer.flush()
        deadline = time.monotonic() + wait_seconds
        while received < messages and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            received += sum(len(records) for records in batches.values())
        await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
        admin = create_admin(settings, client_id="concierge-smoke")
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    return SmokeResult(topic, messages, received, time.perf_counter() - started)
