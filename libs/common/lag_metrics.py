"""Each stage exports its own consumer group's lag, per input partition, as metrics.

Read from the broker as ``concierge lag`` does (libs/common/lag.py), not from
the worker's own assignment, so a partition nobody consumes still shows: its
committed offset stands still while its lag grows (the stalled-partition
alert in deploy/prometheus). Every replica of a stage exports the whole
group's view; queries take ``max by (group, topic, partition)``.

- ``concierge_consumer_lag{group,topic,partition}``: end offset minus committed;
- ``concierge_consumer_committed_offset{group,topic,partition}``: -1 until the
  group commits on the partition;
- ``concierge_consumer_lag_read_errors_total{group}``: reads that failed (the
  gauges then keep their last values).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import faust
from prometheus_client import CollectorRegistry, Counter, Gauge

from libs.common.kafka import create_admin, create_consumer
from libs.common.lag import PartitionLag, group_lags, stage_group, stage_inputs
from libs.common.logging import get_logger
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames

log = get_logger("concierge.lag")
LABELS = ("group", "topic", "partition")


class LagGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.lag = Gauge(
            "concierge_consumer_lag",
            "Records a consumer group has not committed yet, per input partition",
            LABELS,
            registry=registry,
        )
        self.committed = Gauge(
            "concierge_consumer_committed_offset",
            "The group's committed offset per input partition (-1: never committed)",
            LABELS,
            registry=registry,
        )
        self.read_errors = Counter(
            "concierge_consumer_lag_read_errors",
            "Lag reads from the broker that failed",
            ["group"],
            registry=registry,
        )

    def record(self, group: str, lags: Sequence[PartitionLag]) -> None:
        for item in lags:
            labels = (group, item.topic, str(item.partition))
            self.lag.labels(*labels).set(item.lag)
            self.committed.labels(*labels).set(-1 if item.committed is None else item.committed)


class LagReader:
    """An admin client and a group-less consumer, opened at the first read and
    kept for the next ones."""

    def __init__(self, settings: CommonSettings, group: str, topics: Sequence[str]) -> None:
        self.settings = settings
        self.group = group
        self.topics = tuple(topics)
        self._clients: tuple[Any, Any] | None = None

    async def read(self) -> list[PartitionLag]:
        if self._clients is None:
            admin = create_admin(self.settings, client_id=f"{self.group}-lag")
            consumer = create_consumer(self.settings, client_id=f"{self.group}-lag", group_id=None)
            await admin.start()
            try:
                await consumer.start()
            except BaseException:
                await admin.close()
                raise
            self._clients = (admin, consumer)
        admin, consumer = self._clients
        return await group_lags(admin, consumer, self.group, self.topics)

    async def close(self) -> None:
        if self._clients is not None:
            admin, consumer = self._clients
            self._clients = None
            await consumer.stop()
            await admin.close()


def export_lag(
    app: faust.App,
    registry: CollectorRegistry,
    settings: CommonSettings,
    group: str,
    topics: Sequence[str],
    every_seconds: float,
) -> LagGauges | None:
    """Refresh the group's lag gauges every ``every_seconds`` (0: not exported)."""
    if every_seconds <= 0:
        return None
    gauges = LagGauges(registry)
    reader = LagReader(settings, group, topics)

    @app.timer(every_seconds)  # type: ignore[untyped-decorator]
    async def export_consumer_lag() -> None:
        try:
            # Bounded: a read that waited out a broker outage would hold stale
            # values as fresh ones.
            async with asyncio.timeout(every_seconds):
                lags = await reader.read()
        except Exception as error:
            gauges.read_errors.labels(group).inc()
            log.info("lag_read_failed", group=group, error=repr(error))
            await reader.close()
            return
        gauges.record(group, lags)

    @app.on_before_shutdown.connect
    async def close_lag_reader(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await reader.close()

    return gauges


def export_stage_lag(
    app: faust.App, registry: CollectorRegistry, settings: CommonSettings, stage: str
) -> LagGauges | None:
    """A stage's own group over its own input topics (libs/common/lag.py)."""
    return export_lag(
        app,
        registry,
        settings,
        group=stage_group(settings, stage),
        topics=stage_inputs(TopicNames(settings.topic_prefix))[stage],
        every_seconds=settings.lag_export_seconds,
    )
