"""A flush's changelog batches go to the broker at once, not after the producer's linger;
and a stage's producer lingers only while its fetches gather."""

from __future__ import annotations

import asyncio
from typing import Any

import aiokafka
from aiokafka.producer.message_accumulator import BatchBuilder, MessageBatch
from aiokafka.structs import TopicPartition

from libs.common.batch_stage import _send_batches
from libs.common.fetch_pace import linger_of, set_linger

LINGER_SECONDS = 5.0


class _QueueingProducer:
    """What ``_send_batches`` uses of aiokafka's producer; keeps what it was given."""

    def __init__(self, batch_bytes: int = 16 * 1024) -> None:
        self.batch_bytes = batch_bytes
        self.queued: list[tuple[BatchBuilder, str, int]] = []

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_bytes, 0)  # no compression

    async def send_batch(self, builder: BatchBuilder, topic: str, *, partition: int) -> Any:
        self.queued.append((builder, topic, partition))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        return done


def _linger_left(builder: BatchBuilder) -> float | None:
    """What aiokafka's sender asks of a queued batch before it sends it."""
    tp = TopicPartition("t.changelog", 0)
    remaining: float | None = MessageBatch(tp, builder, 30.0, LINGER_SECONDS).remaining_linger()
    return remaining


async def test_every_changelog_batch_is_queued_closed_so_it_does_not_linger() -> None:
    producer = _QueueingProducer(batch_bytes=4096)
    writes: dict[str, bytes | None] = {f"customer-{n}": b"x" * 900 for n in range(10)}
    writes["gone"] = None  # a tombstone

    sends = await _send_batches(producer, "t.changelog", 3, writes)

    assert sum(count for _, count in sends) == len(writes)
    assert len(producer.queued) > 1  # ~9 KB in 4 KiB batches
    assert all(builder.closed() for builder, _, _ in producer.queued)
    assert all(_linger_left(builder) is None for builder, _, _ in producer.queued)
    assert {(topic, partition) for _, topic, partition in producer.queued} == {("t.changelog", 3)}


async def test_an_open_batch_would_wait_out_the_linger() -> None:
    """The aiokafka behaviour the closing relies on (its pin is in constraints.txt).
    (async: aiokafka makes a batch's delivery future on the running loop)"""
    builder = BatchBuilder(4096, 0)
    builder.append(timestamp=None, key=b"k", value=b"v")
    assert _linger_left(builder) is not None
    builder.close()
    assert _linger_left(builder) is None


async def test_the_linger_set_applies_to_the_next_batch_the_producer_starts() -> None:
    """aiokafka reads the linger when it makes a batch (its pin is in constraints.txt)."""
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", linger_ms=5000)
    accumulator = producer._message_accumulator
    first, second = TopicPartition("t.actions.web", 0), TopicPartition("t.actions.web", 1)
    try:
        await accumulator.add_message(first, b"k", b"v", timeout=1.0)
        set_linger(producer, 0.0)
        await accumulator.add_message(second, b"k", b"v", timeout=1.0)

        assert linger_of(producer) == 0.0
        assert accumulator._batches[first][0].remaining_linger() is not None  # made at 5 s
        assert accumulator._batches[second][0].remaining_linger() is None  # goes at once
    finally:
        await producer.stop()  # never started: nothing to flush or close
