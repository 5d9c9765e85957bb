"""Operator actions on the topics: tail, request an erasure (dead-letter replay
is shared with the gateway: libs/common/dead_letters.py).

Pure helpers (filters, replay plans) are separate from the Kafka I/O so they
can be tested without a broker.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from libs.common.kafka import create_consumer, create_producer
from libs.common.settings import CommonSettings
from libs.contract.codec import to_json_bytes
from libs.contract.erasure import ErasureRequest


@dataclass(frozen=True)
class TailFilter:
    customer_id: str | None = None
    code: str | None = None

    def matches(self, key: bytes | None, body: dict[str, Any]) -> bool:
        if self.customer_id is not None and body.get("customer_id") != self.customer_id:
            return False
        return self.code is None or body.get("error", {}).get("code") == self.code


async def tail(
    settings: CommonSettings,
    topics: list[str],
    record_filter: TailFilter,
    from_beginning: bool,
    limit: int | None,
    idle_seconds: float | None,
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Records from ``topics`` as they arrive; stops at ``limit`` or after ``idle_seconds``."""
    consumer = create_consumer(
        settings,
        *topics,
        client_id="concierge-cli-tail",
        group_id=None,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    shown = 0
    idle = 0.0
    try:
        while limit is None or shown < limit:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                idle += 0.5
                if idle_seconds is not None and idle >= idle_seconds:
                    return
                continue
            idle = 0.0
            for partition, records in batches.items():
                for record in records:
                    try:
                        body = orjson.loads(record.value) if record.value else {}
                    except orjson.JSONDecodeError:
                        body = {"unparseable": True}
                    if record_filter.matches(record.key, body):
                        shown += 1
                        yield partition.topic, body
                        if limit is not None and shown >= limit:
                            return
    finally:
        await consumer.stop()


def erasure_request(customer_id: str, request_id: str | None = None) -> ErasureRequest:
    return ErasureRequest.model_validate(
        {
            "schema": "erasure/v1",
            "request_id": request_id or f"erasure-{uuid.uuid4().hex}",
            "customer_id": customer_id,
            "requested_at": datetime.now(UTC).isoformat(),
        }
    )


async def request_erasure(settings: CommonSettings, topic: str, request: ErasureRequest) -> None:
    producer = create_producer(settings, client_id="concierge-cli-erasure")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, to_json_bytes(request), key=request.customer_id.encode()
        )
    finally:
        await producer.stop()
