"""Operator actions on the topics: tail, replay dead letters, request an erasure.

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
from pydantic import ValidationError

from libs.common.kafka import create_consumer, create_producer
from libs.common.settings import CommonSettings
from libs.contract.codec import to_json_bytes
from libs.contract.dlq import DeadLetter, ErrorCode
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


@dataclass(frozen=True)
class ReplayPlan:
    """What a dead letter can be replayed as: the original bytes to their source topic."""

    topic: str
    value: bytes | None
    reason_skipped: str | None = None


def plan_replay(letter: DeadLetter, code: ErrorCode | None) -> ReplayPlan | None:
    """None when the letter is filtered out; a skip reason when it can't be replayed faithfully."""
    if code is not None and letter.error.code != code:
        return None
    if letter.original_truncated:
        return ReplayPlan(letter.source.topic, None, "only a prefix of the original was kept")
    if letter.original_redacted:
        return ReplayPlan(letter.source.topic, None, "personal data was masked in the original")
    return ReplayPlan(letter.source.topic, letter.original_bytes())


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: int = 0
    unreadable: int = 0


async def replay_dead_letters(
    settings: CommonSettings,
    dlq_topic: str,
    code: ErrorCode | None,
    dry_run: bool,
    idle_seconds: float = 3.0,
) -> ReplayReport:
    """Send dead-lettered records back to where they came from, after a fix.

    A consumer group per error code remembers what was replayed, so running it
    twice does not replay the same letter twice, and replaying one code never
    hides the letters of another.
    """
    group = f"{settings.topic_prefix}concierge-dlq-replay-{code.value if code else 'all'}"
    consumer = create_consumer(
        settings, dlq_topic, client_id="concierge-cli-replay", group_id=group
    )
    producer = create_producer(settings, client_id="concierge-cli-replay")
    report = ReplayReport()
    await consumer.start()
    await producer.start()
    try:
        idle = 0.0
        while idle < idle_seconds:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                idle += 0.5
                continue
            idle = 0.0
            for records in batches.values():
                for record in records:
                    try:
                        letter = DeadLetter.model_validate_json(record.value)
                    except (ValidationError, ValueError, TypeError):
                        report.unreadable += 1
                        continue
                    plan = plan_replay(letter, code)
                    if plan is None:
                        continue
                    if plan.reason_skipped is not None:
                        report.skipped += 1
                        continue
                    if not dry_run:
                        await producer.send_and_wait(plan.topic, plan.value, key=record.key)
                    report.replayed += 1
            if not dry_run:
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()
    return report


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
