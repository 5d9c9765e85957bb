"""Read one customer's decisions back from the decision log, as an auditor does.

The customer's key is the latest value for their id on the decision stage's
``decision-log-keys`` changelog (compacted; a tombstone once they are
erased); their records are those keyed by their id on the log topic, in the
partition of the same number (both are written by the key's default
partitioner, with as many partitions). A record no key opens is counted, not
shown: after erasure that is every record the customer had.
"""

from __future__ import annotations

from typing import NamedTuple

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition

from libs.common.kafka import connection, records_since
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from libs.contract.codec import from_json_bytes
from libs.contract.decision_log import DecisionLogRecord
from libs.pipeline.decision_log import LogKey, Unreadable, open_sealed

LOG_KEYS_TABLE = ("decision", "decision-log-keys")


class CustomerLog(NamedTuple):
    records: list[DecisionLogRecord]  # oldest first, one per decision id
    unreadable: int  # records of the customer no kept key opens
    key_kept: bool  # False once the customer is erased (or never decided for)


def partition_of(customer_id: str, partitions: int) -> int:
    """The partition the producers' default partitioner sends the customer's key to."""
    numbers = list(range(partitions))
    return int(DefaultPartitioner()(customer_id.encode(), numbers, numbers))


async def read_customer_log(settings: CommonSettings, customer_id: str) -> CustomerLog:
    names = TopicNames(settings.topic_prefix)
    log_topic = names.decision_log
    keys_topic = names.changelog(*LOG_KEYS_TABLE)
    partition = partition_of(customer_id, settings.partitions)
    found = await records_since(
        connection(settings),
        [keys_topic, log_topic],
        0,
        keys_of=TopicPartition(log_topic, partition),
    )
    wanted = customer_id.encode()
    key: LogKey | None = None
    sealed: list[bytes] = []
    for record in found:
        if record.key != wanted:
            continue
        if record.topic == keys_topic:
            key = None if record.value is None else LogKey.from_bytes(record.value)
        elif record.value is not None:
            sealed.append(record.value)
    records: dict[str, DecisionLogRecord] = {}
    unreadable = 0
    for value in sealed:
        try:
            if key is None:
                raise Unreadable("no key kept for the customer")
            opened = from_json_bytes(DecisionLogRecord, open_sealed(key, customer_id, value))
        except Unreadable:
            unreadable += 1
            continue
        records.setdefault(opened.decision_id, opened)
    return CustomerLog(list(records.values()), unreadable, key is not None)
