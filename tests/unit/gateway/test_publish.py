"""Producing admitted items: every one acknowledged, or the request fails loudly.

A stand-in producer plays Kafka's part; the real one is exercised by the
integration tests.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from aiokafka.structs import RecordMetadata, TopicPartition

from services.gateway.ingest import Admitted, NotWritten, Written
from services.gateway.runtime import BrokerCheck, publish


class StandInProducer:
    """Acks, fails or ignores records by index; refuses to enqueue from `refuse_from`."""

    def __init__(
        self,
        fail: frozenset[int] = frozenset(),
        hang: frozenset[int] = frozenset(),
        refuse_from: int | None = None,
    ) -> None:
        self.fail, self.hang, self.refuse_from = fail, hang, refuse_from
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[Any]:
        number = len(self.sent)
        if self.refuse_from is not None and number >= self.refuse_from:
            raise KafkaTimeoutError()
        self.sent.append((topic, value, key))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if number in self.fail:
            future.set_exception(NotLeaderForPartitionError())
        elif number not in self.hang:
            future.set_result(
                RecordMetadata(topic, 0, TopicPartition(topic, 0), 100 + number, -1, -1, 0)
            )
        return future


def items(count: int) -> list[Admitted]:
    return [
        Admitted(index * 2, f"e{index}", "t.interactions.web", b"k", b"{}")
        for index in range(count)
    ]


async def test_every_item_acknowledged_is_written_in_order() -> None:
    producer = StandInProducer()
    writes = await publish(producer, items(3), ack_seconds=1)
    assert writes == {0: Written(0, 100), 2: Written(0, 101), 4: Written(0, 102)}
    assert [value for _, value, _ in producer.sent] == [b"{}"] * 3


async def test_an_item_kafka_refuses_is_not_written_and_the_others_are() -> None:
    writes = await publish(StandInProducer(fail=frozenset({1})), items(3), ack_seconds=1)
    assert writes[0] == Written(0, 100)
    assert writes[2] == NotWritten("Kafka refused the write: NotLeaderForPartitionError")
    assert writes[4] == Written(0, 102)


async def test_items_not_acknowledged_in_time_are_not_written() -> None:
    writes = await publish(StandInProducer(hang=frozenset({2})), items(3), ack_seconds=0.05)
    assert writes[4] == NotWritten("Kafka did not acknowledge within 0.05s")
    assert writes[0] == Written(0, 100)


async def test_items_the_client_would_not_enqueue_are_not_written() -> None:
    writes = await publish(StandInProducer(refuse_from=1), items(3), ack_seconds=1)
    assert writes[0] == Written(0, 100)
    assert writes[2] == writes[4] == NotWritten("Kafka refused the write: KafkaTimeoutError")


class StandInCluster:
    def __init__(self, answers: bool) -> None:
        self.answers = answers
        self.calls = 0

    async def fetch_all_metadata(self) -> Any:
        self.calls += 1
        if not self.answers:
            raise ConnectionError("no broker")

        class Metadata:
            def brokers(self) -> set[int]:
                return {1}

        return Metadata()


class StandInClient:
    def __init__(self, client: StandInCluster) -> None:
        self.client = client


async def test_readiness_asks_the_broker_at_most_once_per_ttl() -> None:
    cluster = StandInCluster(answers=True)
    check = BrokerCheck(StandInClient(cluster), ttl=60)
    assert await check()
    assert await check()
    assert cluster.calls == 1


async def test_readiness_is_false_when_the_broker_does_not_answer() -> None:
    cluster = StandInCluster(answers=False)
    check = BrokerCheck(StandInClient(cluster), ttl=0)
    assert not await check()
    cluster.answers = True
    assert await check()
