"""The operator principal: dead letters back to their source, privacy requests,
the stages' lag; and nothing a channel or a stage writes."""

from __future__ import annotations

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from libs.common.guard import raw_letter
from libs.common.lag import stage_lags
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from libs.contract.codec import to_json_bytes
from libs.contract.dlq import SourceRef
from services.cli.operate import erasure_request, replay_dead_letters, request_erasure
from tests.integration.security.conftest import SecuredCluster
from tests.support.kafka_io import produce, read_all

pytestmark = pytest.mark.integration


async def test_the_operator_replays_erases_and_reads_lag_and_no_more(
    secured: tuple[SecuredCluster, CommonSettings],
) -> None:
    cluster, admin = secured
    names = TopicNames(admin.topic_prefix)
    operator = cluster.as_user("concierge-operator", topic_prefix=admin.topic_prefix, partitions=2)
    original = b'{"schema": "interaction/v1"}'
    letter = raw_letter(original, SourceRef(topic=names.resolved, partition=0, offset=7), "bug")
    await produce(admin, [(names.dlq, b"C-9", to_json_bytes(letter))])

    report = await replay_dead_letters(operator, names.dlq, None, dry_run=False, idle_seconds=2)
    assert report.replayed == 1
    assert [r.value for r in await read_all(admin, [names.resolved])] == [original]

    await request_erasure(operator, names.privacy_requests, erasure_request("C-9"))
    assert len(await read_all(admin, [names.privacy_requests])) == 1

    lags = await stage_lags(operator)
    assert set(lags) == {"intake", "decision"}

    with pytest.raises(TopicAuthorizationFailedError):
        await produce(operator, [(names.actions("web"), b"C-9", b"{}")])
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(operator, [(names.suppressions, b"C-9", b"{}")])
