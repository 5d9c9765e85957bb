"""Dead letters for operators: what is on `interactions.dlq` by code, and replay.

Shared by the CLI (``concierge dlq``) and the gateway's operator endpoints
(the console): both read and write only through Kafka.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from pydantic import BaseModel, ConfigDict, ValidationError

from libs.common.kafka import create_consumer, create_producer
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from libs.contract.dlq import DeadLetter, ErrorCode


@dataclass(frozen=True)
class ReplayPlan:
    """What a dead letter can be replayed as: the original bytes to their source topic."""

    topic: str
    value: bytes | None
    reason_skipped: str | None = None


def plan_replay(
    letter: DeadLetter, code: ErrorCode | None, to: Callable[[str], bool] | None = None
) -> ReplayPlan | None:
    """None when the letter is filtered out (another code, or a source topic ``to``
    does not allow); a skip reason when it can't be replayed faithfully."""
    if code is not None and letter.error.code != code:
        return None
    if to is not None and not to(letter.source.topic):
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
    filtered: int = 0  # letters of another code


# How long a replay waits for its consumer group to be given the partitions.
JOIN_SECONDS = 30.0


async def replay_dead_letters(
    settings: CommonSettings,
    dlq_topic: str,
    code: ErrorCode | None,
    dry_run: bool,
    idle_seconds: float = 3.0,
    *,
    to: Callable[[str], bool] | None = None,
    group_prefix: str | None = None,
) -> ReplayReport:
    """Send dead-lettered records back to where they came from, after a fix.

    ``to`` limits the source topics replayed to (the console replays only to the
    channel topics; letters of other sources are left for the operator's CLI,
    whose group, the default ``group_prefix``, remembers its own progress).

    A consumer group per error code remembers what was replayed, so running it
    twice does not replay the same letter twice, and replaying one code never
    hides the letters of another. Only letters already dead-lettered when it
    starts are replayed: a letter that fails again lands after them, and is
    left for the next replay (else an unfixed letter would loop for ever).
    """
    prefix = group_prefix or TopicNames(settings.topic_prefix).dlq_replay_group_prefix
    group = f"{prefix}{code.value if code else 'all'}"
    consumer = create_consumer(
        settings, dlq_topic, client_id="concierge-cli-replay", group_id=group
    )
    producer = create_producer(settings, client_id="concierge-cli-replay")
    report = ReplayReport()
    await consumer.start()
    await producer.start()
    try:
        await consumer._client.force_metadata_update()
        numbers = sorted(consumer.partitions_for_topic(dlq_topic) or ())
        ends = await consumer.end_offsets([TopicPartition(dlq_topic, n) for n in numbers])
        idle = 0.0
        joined_by = asyncio.get_running_loop().time() + JOIN_SECONDS
        while idle < idle_seconds:
            batches = await consumer.getmany(timeout_ms=500)
            if not batches:
                # Idle counts only once the group gave us the partitions: a broker
                # holds a new group's first join for group.initial.rebalance.delay.ms
                # (3 s by default), and until then there is nothing to read.
                if consumer.assignment() or asyncio.get_running_loop().time() > joined_by:
                    idle += 0.5
                continue
            idle = 0.0
            done: dict[TopicPartition, int] = {}
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends.get(tp, 0):
                        break
                    done[tp] = record.offset + 1
                    outcome = await _replay_one(
                        record.key, record.value, code, dry_run, producer, to
                    )
                    setattr(report, outcome, getattr(report, outcome) + 1)
                if done.get(tp, ends.get(tp, 0)) >= ends.get(tp, 0):
                    consumer.seek(tp, ends.get(tp, 0))  # the rest is for the next replay
            if done and not dry_run:
                await consumer.commit(done)
            assigned = consumer.assignment()
            if assigned and all([await _at_least(consumer, tp, ends) for tp in assigned]):
                break
    finally:
        await producer.stop()
        await consumer.stop()
    return report


async def _at_least(consumer: AIOKafkaConsumer, tp: TopicPartition, ends: dict[Any, int]) -> bool:
    return bool(await consumer.position(tp) >= ends.get(tp, 0))


async def _replay_one(
    key: bytes | None,
    value: bytes | None,
    code: ErrorCode | None,
    dry_run: bool,
    producer: AIOKafkaProducer,
    to: Callable[[str], bool] | None = None,
) -> str:
    """Which count of the report the letter adds to (None: filtered out)."""
    try:
        letter = DeadLetter.model_validate_json(value or b"")
    except (ValidationError, ValueError, TypeError):
        return "unreadable"
    plan = plan_replay(letter, code, to)
    if plan is None:
        return "filtered"
    if plan.reason_skipped is not None:
        return "skipped"
    if not dry_run:
        await producer.send_and_wait(plan.topic, plan.value, key=key)
    return "replayed"


class RecentLetter(BaseModel):
    """A dead letter as an operator scans it: never the original bytes (they may
    hold what the sender should not have sent)."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    path: str | None
    source_topic: str
    source_offset: int
    rejected_at: datetime


@dataclass
class LetterSummary:
    scanned: int = 0
    by_code: Counter[str] = field(default_factory=Counter)
    recent: list[RecentLetter] = field(default_factory=list)  # newest first


async def summarize_dead_letters(
    settings: CommonSettings, dlq_topic: str, per_partition: int = 1000, recent: int = 50
) -> LetterSummary:
    """Counts by code over the last ``per_partition`` letters of each partition,
    and the ``recent`` newest of them."""
    consumer = create_consumer(settings, client_id="concierge-dlq-summary", group_id=None)
    await consumer.start()
    summary = LetterSummary()
    letters: list[RecentLetter] = []
    try:
        found = consumer.partitions_for_topic(dlq_topic) or set()
        if not found:
            await consumer._client.force_metadata_update()
            found = consumer.partitions_for_topic(dlq_topic) or set()
        tps = [TopicPartition(dlq_topic, number) for number in sorted(found)]
        if not tps:
            return summary
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        todo = {tp: ends[tp] for tp in tps if ends[tp] > starts[tp]}
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, max(starts[tp], ends[tp] - per_partition))
        while todo:
            for tp, records in (await consumer.getmany(*todo, timeout_ms=500)).items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    summary.scanned += 1
                    try:
                        letter = DeadLetter.model_validate_json(record.value or b"")
                    except (ValidationError, ValueError):
                        summary.by_code["unreadable"] += 1
                        continue
                    summary.by_code[letter.error.code] += 1
                    letters.append(
                        RecentLetter(
                            code=letter.error.code,
                            message=letter.error.message,
                            path=letter.error.path,
                            source_topic=letter.source.topic,
                            source_offset=letter.source.offset,
                            rejected_at=letter.rejected_at,
                        )
                    )
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    del todo[tp]
    finally:
        await consumer.stop()
    letters.sort(key=lambda letter: letter.rejected_at, reverse=True)
    summary.recent = letters[:recent]
    return summary
