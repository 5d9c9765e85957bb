"""Outputs keep the partition Kafka's default partitioner gives their key."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from libs.common.key_partitions import KeyPartitions


def test_the_partition_is_the_default_partitioners_for_every_key_and_count() -> None:
    partitions = KeyPartitions()
    default = DefaultPartitioner()
    for count in (1, 4, 12):
        topic = set(range(count))
        for number in range(500):
            key = f"cust-{number:06d}".encode()
            expected = default(key, list(range(count)), list(range(count)))
            assert partitions.of(key, topic) == expected
            assert partitions.of(key, topic) == expected  # remembered


def test_a_topic_with_more_partitions_gets_its_own_choice() -> None:
    partitions = KeyPartitions()
    key = b"cust-000042"
    assert {partitions.of(key, set(range(count))) for count in range(1, 40)} != {0}


def test_the_memory_is_bounded() -> None:
    partitions = KeyPartitions(max_keys=10)
    for number in range(25):
        partitions.of(f"k{number}".encode(), {0, 1, 2, 3})
    assert len(partitions) <= 10
