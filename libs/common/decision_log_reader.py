"""Read one customer's decisions back from the decision log, as an auditor does.

The customer's key is the latest value for their id on the decision stage's
``decision-log-keys`` changelog (compacted; a tombstone once they are
erased); their records are those keyed by that key's id (``log_subject``) on
the log topic, in the partition of the number the key's default partitioner
gives their id (both topics have as many partitions). Once they are erased
no key names their records, so none are found: the log keeps them, sealed,
under an id nothing links to the customer. Records written before the log was
keyed so carry the customer id; they are read too, and one no kept key opens
is counted, not shown.
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
from libs.pipeline.decision_log import LogKey, Unreadable, log_subject, open_sealed

LOG_KEYS_TABLE = ("decision", "decision-log-keys")


class CustomerLog(NamedTuple):
    records: list[DecisionLogRecord]  # oldest first, one per decision id
    unreadable: int  # records under the customer id (before keying by subject) no key opens
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
    by_id = customer_id.encode()
    key: LogKey | None = None
    for record in found:
        if record.topic == keys_topic and record.key == by_id:
            key = None if record.value is None else LogKey.from_bytes(record.value)
    wanted = {by_id} if key is None else {by_id, log_subject(key)}
    sealed = [
        record.value
        for record in found
        if record.topic == log_topic and record.key in wanted and record.value is not None
    ]
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
