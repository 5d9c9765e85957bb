"""Reads a system's output topics and hands each output's cause to the run book.

No consumer group: it reads every partition from the start of the (fresh)
topics, commits nothing, and so never shows up in the lag it measures.
Receive time is taken per fetched batch, as the bench sees the records.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import orjson
from aiokafka import AIOKafkaConsumer

from bench.e2e.latency import RunBook, event_id_of
from libs.common.kafka import create_consumer
from libs.common.settings import CommonSettings


def _fetch_settings(batch_wait_ms: int) -> dict[str, int]:
    if batch_wait_ms <= 0:
        return {}
    return {"fetch_min_bytes": 1 << 20, "fetch_max_wait_ms": batch_wait_ms}


class Collector:
    def __init__(
        self, bootstrap: str, topic_stages: dict[str, str], book: RunBook, batch_wait_ms: int = 0
    ) -> None:
        self.topic_stages = topic_stages
        self.book = book
        self.undecodable = 0
        self._consumer: AIOKafkaConsumer = create_consumer(
            CommonSettings(kafka_bootstrap_servers=bootstrap),
            *topic_stages,
            client_id="bench-collector",
            group_id=None,
            **_fetch_settings(batch_wait_ms),
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="bench-collector")

    def check(self) -> None:
        """Raise the collector's own failure, if it had one, instead of reporting silence."""
        if self._task is not None and self._task.done() and not self._task.cancelled():
            self._task.result()

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            received_ns = time.time_ns()
            for partition, records in batches.items():
                stage = self.topic_stages[partition.topic]
                for record in records:
                    try:
                        payload = orjson.loads(record.value)
                    except orjson.JSONDecodeError:
                        self.undecodable += 1
                        continue
                    self.book.observe(stage, event_id_of(payload), received_ns)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
