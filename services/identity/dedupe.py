"""Is this event_id new, a redelivery of the same record, or a sender's repeat?

The first sighting of an event_id is remembered with the input record it came
from. The same record seen again (a redelivery after a crash, before the
offset was committed) is processed again, because what it produced may not
have been sent; downstream stages are idempotent per event. A different record
with the same event_id is the sender repeating itself: dropped and counted.
"""

from __future__ import annotations

from enum import StrEnum

import orjson

from libs.contract.dlq import SourceRef


class Sighting(StrEnum):
    NEW = "new"
    REDELIVERY = "redelivery"
    REPEAT = "repeat"


def classify(first_seen: SourceRef | None, current: SourceRef) -> Sighting:
    if first_seen is None:
        return Sighting.NEW
    return Sighting.REDELIVERY if first_seen == current else Sighting.REPEAT


def encode_source(source: SourceRef) -> bytes:
    return orjson.dumps([source.topic, source.partition, source.offset])


def decode_source(data: bytes | None) -> SourceRef | None:
    if data is None:
        return None
    topic, partition, offset = orjson.loads(data)
    return SourceRef(topic=topic, partition=partition, offset=offset)
