"""Publishing simulated events to `interactions.<channel>`, paced to a rate.

Pacing follows an absolute schedule: event i goes at start + offset_i, not
"interval after the previous send", so time spent sending never accumulates
into drift. When the producer cannot keep up, events go as fast as it allows
and the lag is reported instead of hidden.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import orjson

from libs.common.kafka import create_producer
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from services.simulator.builder import stamped

# Kafka keys never carry phone or e-mail: keys are stored and logged in clear,
# and raw personal data must not leave the edge. Strongest first, as the
# gateway keys records.
KEY_IDENTIFIERS: Final = ("customer_id", "loyalty_id", "device_id", "anonymous_id")
# Unacknowledged sends allowed before waiting for the broker: bounds memory
# while letting the producer batch.
MAX_UNACKNOWLEDGED: Final = 1000


class Sender(Protocol):
    """What `publish` needs of a producer (AIOKafkaProducer has it)."""

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Awaitable[Any]: ...


@dataclass
class Tally:
    """Running counts of one run.

    The caller holds it, so a run cut short (Ctrl-C) still reports what it sent.
    """

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    started: float | None = None
    first_sent: float | None = None
    last_sent: float | None = None
    finished: float | None = None
    max_lag_seconds: float = 0.0

    @property
    def sent(self) -> int:
        return sum(self.counts.values())

    def record(self, channel: str, event_type: str, at: float) -> None:
        self.counts[(channel, event_type)] += 1
        if self.first_sent is None:
            self.first_sent = at
        self.last_sent = at

    def by_channel(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (channel, _), count in self.counts.items():
            totals[channel] += count
        return totals

    def elapsed_seconds(self) -> float:
        """From the start of the run to the last acknowledgement (or the last send)."""
        if self.started is None:
            return 0.0
        end = self.finished if self.finished is not None else self.last_sent
        return 0.0 if end is None else max(0.0, end - self.started)

    def achieved_rate(self) -> float:
        """Sends per second between the first and the last send.

        Counting intervals, not events, so a run paced exactly at r reports r
        (n events at rate r span (n - 1) / r seconds).
        """
        if self.first_sent is None or self.last_sent is None or self.sent < 2:
            return 0.0
        span = self.last_sent - self.first_sent
        return (self.sent - 1) / span if span > 0 else 0.0


def seconds_until(start: float, offset: float, now: float) -> float:
    """How long to wait before sending the event due at `start + offset` (negative: late)."""
    return start + offset - now


def kafka_key(event: dict[str, Any]) -> bytes | None:
    """The strongest non-personal identifier; else the session (a call's id).

    A phone-only call has no such identifier: keying by the call's session
    keeps its steps on one partition, in order, without putting the number in
    the key.
    """
    identity = event.get("identity") or {}
    for name in KEY_IDENTIFIERS:
        value = identity.get(name)
        if value:
            return str(value).encode()
    session = event.get("session_id")
    return str(session).encode() if session else None


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def publish(
    events: Iterable[tuple[float, str, dict[str, Any]]],
    producer: Sender,
    names: TopicNames,
    *,
    tally: Tally | None = None,
    on_sent: Callable[[Tally], None] | None = None,
    clock: Callable[[], float] | None = None,
    wall_clock: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Tally:
    """Send each (offset, channel, event) at its offset, `occurred_at` set at send time.

    Returns when every event is acknowledged; a failed delivery raises.
    """
    tally = Tally() if tally is None else tally
    monotonic = clock or asyncio.get_running_loop().time
    start = tally.started = monotonic()
    unacknowledged: list[Awaitable[Any]] = []
    for offset, channel, event in events:
        wait = seconds_until(start, offset, monotonic())
        if wait > 0:
            await sleep(wait)
        else:
            tally.max_lag_seconds = max(tally.max_lag_seconds, -wait)
        record = stamped(event, wall_clock())
        delivery = await producer.send(
            names.interactions(channel), orjson.dumps(record), key=kafka_key(record)
        )
        unacknowledged.append(delivery)
        tally.record(channel, str(record["type"]), monotonic())
        if on_sent is not None:
            on_sent(tally)
        if len(unacknowledged) >= MAX_UNACKNOWLEDGED:
            await asyncio.gather(*unacknowledged)
            unacknowledged.clear()
    await asyncio.gather(*unacknowledged)
    tally.finished = monotonic()
    return tally


async def publish_run(
    settings: CommonSettings,
    events: Iterable[tuple[float, str, dict[str, Any]]],
    *,
    tally: Tally | None = None,
    on_sent: Callable[[Tally], None] | None = None,
) -> Tally:
    """`publish` through the shared producer factory (acks=all, idempotent)."""
    producer = create_producer(settings, client_id="concierge-simulator")
    await producer.start()
    try:
        return await publish(
            events,
            producer,
            TopicNames(prefix=settings.topic_prefix),
            tally=tally,
            on_sent=on_sent,
        )
    finally:
        await producer.stop()
