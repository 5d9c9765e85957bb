"""Pacing, keys, topics and counts of the publisher, with a stand-in producer and clock."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from libs.common.topics import TopicNames
from services.simulator.journeys import events_at_rate, send_offsets
from services.simulator.preflight import missing_topics
from services.simulator.publisher import Tally, kafka_key, publish, seconds_until
from services.simulator.summary import render_summary

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    """A clock that moves only when slept on or when a send takes time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeProducer:
    def __init__(self, time: FakeTime, send_seconds: float) -> None:
        self.time, self.send_seconds = time, send_seconds
        self.sent: list[tuple[float, str, bytes, bytes | None]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[Any]:
        self.sent.append((self.time.now, topic, value, key))
        self.time.now += self.send_seconds
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def test_send_offsets_fill_the_duration_at_the_rate() -> None:
    assert len(list(send_offsets(50, 60))) == 3000
    assert list(send_offsets(4, 1)) == [0, 0.25, 0.5, 0.75]
    assert len(list(send_offsets(3, 1.5))) == math.ceil(3 * 1.5)
    assert list(send_offsets(10, 0)) == []
    with pytest.raises(ValueError, match="positive"):
        list(send_offsets(0, 1))


def test_events_at_rate_are_scheduled_on_the_send_offsets() -> None:
    offsets = [offset for offset, _, _ in events_at_rate(30, 1, rate=20, duration=7.5)]
    assert offsets == list(send_offsets(20, 7.5))


def test_seconds_until_counts_from_the_start_not_the_previous_send() -> None:
    assert seconds_until(start=10.0, offset=2.0, now=11.5) == 0.5
    assert seconds_until(start=10.0, offset=2.0, now=12.5) == -0.5


async def test_sends_keep_to_the_absolute_schedule_however_long_a_send_takes() -> None:
    time = FakeTime()
    producer = FakeProducer(time, send_seconds=0.03)
    events = list(events_at_rate(10, 1, rate=10, duration=3))
    tally = await publish(
        events, producer, TopicNames(), clock=time.clock, sleep=time.sleep, wall_clock=lambda: NOW
    )
    send_times = [at - 100.0 for at, _, _, _ in producer.sent]
    # Each send happens at its offset exactly: the 30 ms a send takes never adds up.
    assert send_times == pytest.approx([offset for offset, _, _ in events])
    assert all(wait == pytest.approx(0.07) for wait in time.sleeps[1:])
    assert tally.sent == 30
    assert tally.achieved_rate() == pytest.approx(10)
    assert tally.max_lag_seconds == 0


async def test_a_producer_slower_than_the_rate_sends_flat_out_and_reports_the_lag() -> None:
    time = FakeTime()
    producer = FakeProducer(time, send_seconds=0.2)
    events = list(events_at_rate(10, 1, rate=10, duration=2))
    tally = await publish(events, producer, TopicNames(), clock=time.clock, sleep=time.sleep)
    assert time.sleeps == []
    assert tally.max_lag_seconds == pytest.approx(19 * 0.2 - 19 * 0.1)
    assert tally.achieved_rate() == pytest.approx(5)


async def test_each_event_goes_to_its_channels_topic_stamped_and_counted() -> None:
    time = FakeTime()
    producer = FakeProducer(time, send_seconds=0.0)
    events = list(events_at_rate(40, 2, rate=100, duration=4))
    seen: list[int] = []
    tally = await publish(
        events,
        producer,
        TopicNames(prefix="p."),
        clock=time.clock,
        sleep=time.sleep,
        wall_clock=lambda: NOW,
        on_sent=lambda running: seen.append(running.sent),
    )
    assert seen == list(range(1, 401))
    for (_, channel, event), (_, topic, value, key) in zip(events, producer.sent, strict=True):
        record = orjson.loads(value)
        assert topic == f"p.interactions.{channel}"
        assert record == {**event, "occurred_at": "2025-05-01T12:00:00.000Z"}
        assert key == kafka_key(record)
    assert set(tally.by_channel()) == {"web", "phone", "mobile", "store"}
    assert sum(tally.by_channel().values()) == 400
    assert tally.counts[("web", "page_view")] > 0


def test_keys_are_the_strongest_non_personal_identifier_never_phone_or_email() -> None:
    def event(identity: dict[str, str], session: str | None = None) -> dict[str, Any]:
        return {"identity": identity, **({"session_id": session} if session else {})}

    assert kafka_key(event({"anonymous_id": "a", "customer_id": "c"})) == b"c"
    assert kafka_key(event({"loyalty_id": "l", "device_id": "d"})) == b"l"
    assert kafka_key(event({"device_id": "d", "anonymous_id": "a"})) == b"d"
    assert kafka_key(event({"phone": "+447700900001"}, session="sess-phone-1")) == b"sess-phone-1"
    assert kafka_key(event({"phone": "+447700900001", "email": "a@example.com"})) is None


def test_the_summary_gives_the_rate_and_counts_per_channel_and_type() -> None:
    tally = Tally(started=0.0, finished=2.0)
    for at, (channel, event_type) in enumerate(
        [("web", "page_view"), ("web", "page_view"), ("phone", "call_started")]
    ):
        tally.record(channel, event_type, float(at))
    text = render_summary(tally, requested_rate=1)
    assert text.splitlines()[0] == "sent 3 events in 2.0 s: 1.0 events/s (requested 1)"
    for word in ("web", "phone", "page_view", "call_started"):
        assert word in text
    tally.max_lag_seconds = 3
    assert "behind schedule" in render_summary(tally, 1)
    assert render_summary(tally, 1, interrupted=True).startswith("interrupted")


def test_missing_topics_lists_the_interaction_topics_not_there() -> None:
    names = TopicNames(prefix="x.")
    assert missing_topics({"x.interactions.web", "x.interactions.phone"}, names) == [
        "x.interactions.mobile",
        "x.interactions.store",
    ]
    assert (
        missing_topics([names.interactions(c) for c in ("web", "phone", "mobile", "store")], names)
        == []
    )
