"""Each channel system's principal does its own work and nothing of another channel's."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from libs.common.access import channel_group_prefix
from libs.common.kafka import create_producer
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from tests.integration.security.conftest import SecuredCluster, read_values
from tests.support.kafka_io import produce

pytestmark = pytest.mark.integration


async def _send(settings: CommonSettings, topic: str) -> None:
    producer = create_producer(settings, client_id="test-channel", request_timeout_ms=10_000)
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}"), 30)
    finally:
        await producer.stop()


async def _read(settings: CommonSettings, topic: str, group: str | None = None) -> list[bytes]:
    """The values on ``topic`` (read in ``group`` until one arrives, when one is named)."""
    if group is None:
        return await read_values(settings, topic, None, lambda _: False, timeout=1)
    return await read_values(settings, topic, group, bool, timeout=30)


async def test_a_channel_principal_works_only_on_its_own_channel(
    secured: tuple[SecuredCluster, CommonSettings],
) -> None:
    cluster, admin = secured
    names = TopicNames(admin.topic_prefix)
    for channel in CHANNELS:
        own = cluster.as_user(f"channel-{channel.value}", topic_prefix=admin.topic_prefix)
        # Its own work: publish interactions, read its actions and the suppressions.
        await _send(own, names.interactions(channel))
        action = f'{{"for": "{channel.value}"}}'.encode()
        await produce(admin, [(names.actions(channel), b"C-1", action)])
        # In a consumer group of its own name space (channel-<channel>...).
        group = f"{channel_group_prefix(names, channel)}-desktop"
        assert await _read(own, names.actions(channel), group) == [action]
        for topic in (names.suppressions, names.suppressions_active):
            await _read(own, topic)
        # Nothing of the other channels', either way.
        for other in CHANNELS:
            if other is channel:
                continue
            with pytest.raises(TopicAuthorizationFailedError):
                await _send(own, names.interactions(other))
            with pytest.raises(TopicAuthorizationFailedError):
                await _read(own, names.actions(other))
        # Nor Concierge's internal stream, the dead letters, or its own actions.
        for topic in (names.resolved, names.dlq):
            with pytest.raises(TopicAuthorizationFailedError):
                await _read(own, topic)
        with pytest.raises(TopicAuthorizationFailedError):
            await _send(own, names.actions(channel))
        # Nor a consumer group outside its name space.
        with pytest.raises(GroupAuthorizationFailedError):
            await _read(own, names.actions(channel), f"{names.prefix}concierge-decision")
