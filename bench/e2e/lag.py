"""Consumer lag per group: end offsets of its input topics minus its committed offsets.

Read from the broker, as an operator would, so Concierge's Faust groups and
the bare relays' groups are measured the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from libs.common.kafka import create_admin, create_consumer
from libs.common.settings import CommonSettings


def lag_of(ends: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int]) -> int:
    """Records not yet committed; a partition never committed counts from offset 0
    (the bench's topics are fresh, so 0 is where they begin)."""
    return sum(max(0, end - max(0, committed.get(tp, 0))) for tp, end in ends.items())


class LagProbe:
    def __init__(self, bootstrap: str) -> None:
        settings = CommonSettings(kafka_bootstrap_servers=bootstrap)
        self._admin: AIOKafkaAdminClient = create_admin(settings, client_id="bench-lag")
        self._consumer: AIOKafkaConsumer = create_consumer(
            settings, client_id="bench-lag", group_id=None
        )
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()
        await self._admin.close()

    async def _partitions_of(self, topics: Iterable[str]) -> list[TopicPartition]:
        unknown = [topic for topic in topics if topic not in self._partitions]
        if unknown:
            for entry in await self._admin.describe_topics(unknown):
                self._partitions[entry["topic"]] = [
                    TopicPartition(entry["topic"], partition["partition"])
                    for partition in entry["partitions"]
                ]
        return [tp for topic in topics for tp in self._partitions.get(topic, [])]

    async def lags(self, groups: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
        result: dict[str, int] = {}
        for group, topics in groups.items():
            partitions = await self._partitions_of(topics)
            ends = await self._consumer.end_offsets(partitions)
            offsets = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
            committed = {tp: meta.offset for tp, meta in offsets.items()}
            result[group] = lag_of(ends, committed)
        return result
