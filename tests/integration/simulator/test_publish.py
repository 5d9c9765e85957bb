"""A small simulated run against a real broker lands every event on its channel's topic."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from libs.contract.interaction import InteractionEvent
from services.simulator.journeys import events_at_rate
from services.simulator.publisher import kafka_key, publish_run
from tests.support.kafka_io import consume_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


def interaction_topics(names: TopicNames) -> list[str]:
    return [names.interactions(channel) for channel in CHANNELS]


async def test_every_event_lands_on_its_channels_topic_keyed_and_stamped(
    provisioned: CommonSettings, topic_names: TopicNames
) -> None:
    events = list(events_at_rate(20, 3, rate=200, duration=1.0))
    before = datetime.now(UTC)
    tally = await publish_run(provisioned, events)
    assert tally.sent == len(events) == 200

    records = await consume_until(
        provisioned, interaction_topics(topic_names), lambda seen: len(seen) >= 200, timeout=60
    )
    assert len(records) == 200
    by_id = {event["event_id"]: event for _, _, event in events}
    for record in records:
        value = record.json()
        assert record.topic == topic_names.interactions(value["channel"])
        assert record.key == kafka_key(value)
        sent = by_id.pop(value["event_id"])
        assert {k: v for k, v in value.items() if k != "occurred_at"} == sent
        occurred_at = InteractionEvent.from_sender(value).occurred_at
        assert before - timedelta(seconds=1) <= occurred_at <= datetime.now(UTC)
    assert by_id == {}
    assert {record.topic for record in records} == set(interaction_topics(topic_names))


async def test_the_command_line_publishes_and_summarises(
    provisioned: CommonSettings, topic_names: TopicNames
) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": provisioned.kafka_bootstrap_servers,
        "CONCIERGE_TOPIC_PREFIX": provisioned.topic_prefix,
    }
    command = [
        sys.executable,
        "-m",
        "services.simulator",
        "--customers",
        "10",
        "--rate",
        "100",
        "--duration",
        "0.5",
        "--seed",
        "11",
    ]
    # A blocking call in an async test is fine here: nothing else runs meanwhile.
    finished = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("sent 50 events in ")
    records = await consume_until(
        provisioned, interaction_topics(topic_names), lambda seen: len(seen) >= 50, timeout=60
    )
    assert len(records) == 50
