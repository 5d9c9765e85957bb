"""The operator principal: provisioning, dead letters back to their source, privacy
requests, the stages' lag; and nothing a channel or a stage writes."""

from __future__ import annotations

import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from libs.common.access import Principals, acl_plan
from libs.common.acls import create_acls
from libs.common.dead_letters import replay_dead_letters
from libs.common.guard import raw_letter
from libs.common.lag import stage_lags
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames, all_topics
from libs.contract.codec import to_json_bytes
from libs.contract.dlq import SourceRef
from services.cli.operate import erasure_request, request_erasure
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

    # Provisioning: a deployment's topics, created by the operator under the plan's ACLs.
    fresh = operator.model_copy(update={"topic_prefix": f"{admin.topic_prefix}fresh."})
    create_acls(admin, acl_plan(TopicNames(fresh.topic_prefix), Principals()))
    created = await provision(fresh)
    assert created.ok, created
    assert len(created.created) == len(all_topics(TopicNames(fresh.topic_prefix), 2))
    assert (await provision(fresh, create=False)).ok

    with pytest.raises(TopicAuthorizationFailedError):
        await produce(operator, [(names.actions("web"), b"C-9", b"{}")])
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(operator, [(names.suppressions, b"C-9", b"{}")])
