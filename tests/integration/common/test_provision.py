from __future__ import annotations

import pytest
from aiokafka.admin import NewTopic

from libs.common.kafka import create_admin
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames, all_topics

pytestmark = pytest.mark.integration


async def test_provision_creates_every_topic_then_is_idempotent(
    kafka_settings: CommonSettings,
) -> None:
    expected = {spec.name for spec in all_topics(TopicNames(kafka_settings.topic_prefix), 2)}
    first = await provision(kafka_settings)
    assert set(first.created) == expected
    assert first.ok
    second = await provision(kafka_settings)
    assert second.created == []
    assert set(second.existing) == expected
    assert second.ok, second.drift


async def test_check_mode_reports_missing_topics_and_creates_none(
    kafka_settings: CommonSettings,
) -> None:
    report = await provision(kafka_settings, create=False)
    assert report.created == []
    assert not report.ok
    assert f"{kafka_settings.topic_prefix}suppressions" in report.missing


async def test_drift_on_an_existing_topic_is_reported_not_ignored(
    kafka_settings: CommonSettings,
) -> None:
    names = TopicNames(kafka_settings.topic_prefix)
    admin = create_admin(kafka_settings, client_id="test-drift")
    await admin.start()
    try:
        # Someone created the DLQ by hand: wrong partitions and a 1-day retention.
        await admin.create_topics(
            [NewTopic(names.dlq, 1, 1, topic_configs={"retention.ms": "86400000"})]
        )
    finally:
        await admin.close()
    report = await provision(kafka_settings)
    drifted = {(item.topic, item.setting) for item in report.drift}
    assert drifted == {(names.dlq, "partitions"), (names.dlq, "retention.ms")}
    assert not report.ok
