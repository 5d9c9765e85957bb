"""The partition Kafka's default partitioner picks for a key, worked out once per key.

aiokafka hashes each record's key (murmur2, in Python: about 3 µs) and builds
the topic's partition lists twice for every record it is given without a
partition. A stage sends two or three outputs per event, keyed by customer, and
a customer's events come in bursts: remembering the choice per key and
partition count, and passing it to ``send``, leaves that work to the first
record of each key. The choice is the library's own partitioner's, so keys
land where any Kafka producer's default would put them.
"""

from __future__ import annotations

from collections.abc import Collection

from aiokafka.partitioner import DefaultPartitioner

MAX_KEYS = 100_000


class KeyPartitions:
    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._partitioner = DefaultPartitioner()
        self._max_keys = max_keys
        self._chosen: dict[tuple[bytes, int], int] = {}

    def of(self, key: bytes, partitions: Collection[int]) -> int:
        """The partition of ``key`` among a topic's ``partitions`` (0 to n-1)."""
        count = len(partitions)
        chosen = self._chosen.get((key, count))
        if chosen is None:
            ordered = sorted(partitions)
            # A keyed record's partition depends on the key and the partition
            # count only (the available ones matter for records without a key).
            chosen = self._partitioner(key, ordered, ordered)
            if len(self._chosen) >= self._max_keys:
                self._chosen.clear()
            self._chosen[(key, count)] = chosen
        return chosen

    def __len__(self) -> int:
        """Keys remembered."""
        return len(self._chosen)
