"""Consumer lag of each stage, per partition, read from the broker as an operator would.

A stage's lag is what its consumer group has not committed yet on its input
topics. A partition whose lag stays up while its committed offset does not
move is stuck: nobody consumes it (see docs/operations.md, "Lag").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from libs.common.kafka import create_admin, create_consumer
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames

STAGES = ("intake", "decision")


def stage_inputs(names: TopicNames) -> dict[str, tuple[str, ...]]:
    """The topics each stage's consumer group reads."""
    return {
        "intake": (*(names.interactions(c) for c in CHANNELS), names.privacy_requests),
        "decision": (names.resolved,),
    }


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end: int
    committed: int | None  # None: the group never committed on this partition

    @property
    def lag(self) -> int:
        return max(0, self.end - (self.committed or 0))


async def group_lags(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, group: str, topics: Iterable[str]
) -> list[PartitionLag]:
    """Every partition of ``topics`` with its end offset and ``group``'s committed offset."""
    partitions = [
        TopicPartition(entry["topic"], partition["partition"])
        for entry in await admin.describe_topics(list(topics))
        for partition in entry["partitions"]
    ]
    ends = await consumer.end_offsets(partitions)
    offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    committed = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    return [
        PartitionLag(tp.topic, tp.partition, ends[tp], committed.get(tp))
        for tp in sorted(partitions)
    ]


def stage_group(settings: CommonSettings, stage: str) -> str:
    return f"{settings.topic_prefix}concierge-{stage}"


async def stage_lags(
    settings: CommonSettings, stages: Iterable[str] = STAGES
) -> dict[str, list[PartitionLag]]:
    """Each stage's input partitions with their end and committed offsets, in the order
    given (upstream first by default: a stage found drained after its upstream was
    has seen everything the upstream will send it)."""
    inputs = stage_inputs(TopicNames(settings.topic_prefix))
    admin = create_admin(settings, client_id="concierge-lag")
    consumer = create_consumer(settings, client_id="concierge-lag", group_id=None)
    try:
        # Both closed whatever fails, starting included: the console asks every
        # few seconds, and a broker that refuses must not leak a client each time.
        await admin.start()
        await consumer.start()
        return {
            stage: await group_lags(admin, consumer, stage_group(settings, stage), inputs[stage])
            for stage in stages
        }
    finally:
        await consumer.stop()
        await admin.close()
