from __future__ import annotations

import pytest
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from libs.common.kafka import create_consumer, create_producer
from libs.common.lag import stage_lags
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames

pytestmark = pytest.mark.integration


async def test_lag_shows_what_each_stage_has_not_committed_per_partition(
    provisioned: CommonSettings,
) -> None:
    names = TopicNames(provisioned.topic_prefix)
    producer = create_producer(provisioned, client_id="test-lag")
    await producer.start()
    try:
        for index in range(5):
            await producer.send_and_wait(names.resolved, value=b"{}", partition=index % 2)
    finally:
        await producer.stop()
    # The decision stage's group committed three of partition 0's three records,
    # none of partition 1's two.
    group = create_consumer(
        provisioned, client_id="test-lag", group_id=f"{provisioned.topic_prefix}concierge-decision"
    )
    await group.start()
    try:
        first = TopicPartition(names.resolved, 0)
        group.assign([first])
        await group.commit({first: OffsetAndMetadata(3, "")})
    finally:
        await group.stop()

    lags = await stage_lags(provisioned)

    assert list(lags) == ["intake", "decision"]
    decision = {item.partition: item for item in lags["decision"]}
    assert (decision[0].end, decision[0].committed, decision[0].lag) == (3, 3, 0)
    assert (decision[1].end, decision[1].committed, decision[1].lag) == (2, None, 2)
    assert sum(item.lag for item in lags["intake"]) == 0
