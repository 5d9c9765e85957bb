"""Is this event_id new, a redelivery of the same record, or a sender's repeat?

The first sighting of an event_id is remembered with the input record it came
from and how it was resolved. The same record seen again (a redelivery after a
crash, before the offset was committed) is sent on again exactly as first
resolved, because what it produced may not have been sent; resolving it anew
would find the links it already wrote and forget the merges it asked for.
Downstream stages are idempotent per event. A different record with the same
event_id is the sender repeating itself: dropped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import orjson

from libs.contract.dlq import SourceRef


class Sighting(StrEnum):
    NEW = "new"
    REDELIVERY = "redelivery"
    REPEAT = "repeat"


@dataclass(frozen=True)
class FirstSighting:
    source: SourceRef
    customer_id: str
    provisional: bool
    merges: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        source = [self.source.topic, self.source.partition, self.source.offset]
        return orjson.dumps([source, self.customer_id, self.provisional, list(self.merges)])

    @classmethod
    def from_bytes(cls, data: bytes) -> FirstSighting:
        (topic, partition, offset), customer_id, provisional, merges = orjson.loads(data)
        return cls(
            SourceRef(topic=topic, partition=partition, offset=offset),
            customer_id,
            provisional,
            tuple(merges),
        )


def classify(first: FirstSighting | None, current: SourceRef) -> Sighting:
    if first is None:
        return Sighting.NEW
    return Sighting.REDELIVERY if first.source == current else Sighting.REPEAT
