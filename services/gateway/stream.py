"""Server-Sent Events of `actions.<channel>`: one Kafka consumer per connection.

No consumer group: the partitions are assigned by hand and the position lives
in the client, as the `id` of every event (see `resume`). The consumer is
started and positioned before the response begins, so an action produced
after a client sees the stream open is on that stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from sse_starlette import ServerSentEvent

from libs.common.kafka import create_consumer
from libs.common.logging import get_logger
from libs.contract.common import Channel
from services.gateway.resume import encode_token, resume_plan
from services.gateway.runtime import GatewayRuntime, exit_if_denied

log = get_logger("concierge.gateway")
OPEN_TIMEOUT_SECONDS = 10.0
CLOSE_TIMEOUT_SECONDS = 5.0
# How often a quiet stream notices a server shutdown; well within the grace
# period the response gives it (SHUTDOWN_GRACE_SECONDS).
_POLL_MS = 500
SHUTDOWN_GRACE_SECONDS = 2.0
_MAX_RECORDS = 500


class StreamUnavailable(RuntimeError):
    """The stream could not be opened for a reason on Concierge's side (503)."""


def matches_customer(record: ConsumerRecord[bytes, bytes], customer_id: str | None) -> bool:
    if customer_id is None:
        return True
    if record.key is not None:  # actions are keyed by customer_id
        return bool(record.key == customer_id.encode("utf-8"))
    try:
        value = orjson.loads(record.value) if record.value is not None else None
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and value.get("customer_id") == customer_id


@dataclass
class ActionStream:
    runtime: GatewayRuntime
    consumer: AIOKafkaConsumer
    partitions: list[TopicPartition]
    positions: dict[int, int]
    channel: Channel
    customer_id: str | None
    key_number: int  # whose stream slot this holds
    # The SSE event name, and which records of the topic to pass on (all when None):
    # the suppression stream (customer_views.py) reads `suppressions` this way.
    event_name: str = "action"
    keep: Callable[[bytes], bool] | None = None
    _closed: bool = field(default=False)

    @property
    def token(self) -> str:
        return encode_token(self.positions)

    async def events(self, shutdown: anyio.Event) -> AsyncIterator[ServerSentEvent]:
        """Actions as SSE events, each with the position after it as its id.

        First an id-only event: it dispatches nothing in an EventSource but
        sets its Last-Event-ID, so a reconnect before any action still resumes
        from where this stream opened. Ends, cleanly, when the server shuts
        down (`shutdown` is set by sse-starlette); clients reconnect with
        their Last-Event-ID.
        """
        metrics = self.runtime.metrics
        counter = (
            metrics.suppressions_streamed
            if self.event_name == "suppression"
            else (metrics.actions_streamed)
        )
        streamed = counter.labels(self.channel.value)
        try:
            yield ServerSentEvent(id=self.token)
            while not shutdown.is_set():
                try:
                    batches = await self.consumer.getmany(
                        *self.partitions, timeout_ms=_POLL_MS, max_records=_MAX_RECORDS
                    )
                except KafkaError as error:
                    exit_if_denied(error, self.runtime.kafka_principal, "READ")
                    raise
                for partition, records in batches.items():
                    for record in records:
                        # Skipped records advance the position too, so a resumed
                        # stream does not scan them again.
                        self.positions[partition.partition] = record.offset + 1
                        if record.value is None or not matches_customer(record, self.customer_id):
                            continue
                        if self.keep is not None and not self.keep(record.value):
                            continue
                        streamed.inc()
                        yield ServerSentEvent(
                            data=record.value.decode("utf-8", errors="replace"),
                            event=self.event_name,
                            id=self.token,
                        )
        finally:
            await self.close()

    async def close(self) -> None:
        """Idempotent; shielded, because it runs while the response is being cancelled."""
        if self._closed:
            return
        self._closed = True
        with anyio.move_on_after(CLOSE_TIMEOUT_SECONDS, shield=True):
            try:
                await self.consumer.stop()
            except Exception as error:  # the connection is gone either way
                log.warning("stream_consumer_stop_failed", error=type(error).__name__)
        self.runtime.release_stream_slot(self.key_number)
        log.debug("stream_closed", channel=self.channel.value)


async def open_action_stream(
    runtime: GatewayRuntime,
    channel: Channel,
    customer_id: str | None,
    requested: dict[int, int] | None,
    key_number: int,
    *,
    topic: str | None = None,
    event_name: str = "action",
    keep: Callable[[bytes], bool] | None = None,
) -> ActionStream:
    """Positioned at `requested` (a decoded resume token) or, without one, at the end.

    Raises BadResumeToken (400) or StreamUnavailable (503). The caller holds a
    stream slot for `key_number`, which the returned stream releases when
    closed (and this function on failure).
    """
    topic = topic or runtime.names.actions(channel)
    consumer = create_consumer(
        runtime.settings.common, client_id="concierge-gateway-sse", group_id=None
    )
    try:
        async with asyncio.timeout(OPEN_TIMEOUT_SECONDS):
            await consumer.start()
            # A consumer without subscriptions keeps no topic metadata; ask for
            # all topics (a request naming one could auto-create it).
            cluster = await runtime.producer.client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(topic)
            if not partitions:
                raise StreamUnavailable(f"topic {topic} does not exist")
            assigned = [TopicPartition(topic, number) for number in sorted(partitions)]
            consumer.assign(assigned)
            end_offsets = await consumer.end_offsets(assigned)
            ends = {tp.partition: offset for tp, offset in end_offsets.items()}
            if requested is None:
                positions = ends
            else:
                beginnings = {
                    tp.partition: offset
                    for tp, offset in (await consumer.beginning_offsets(assigned)).items()
                }
                positions = resume_plan(requested, beginnings, ends)
            for tp in assigned:
                consumer.seek(tp, positions[tp.partition])
    except BaseException as error:
        exit_if_denied(error, runtime.kafka_principal, "READ")
        with anyio.move_on_after(CLOSE_TIMEOUT_SECONDS, shield=True):
            await consumer.stop()
        runtime.release_stream_slot(key_number)
        if isinstance(error, TimeoutError):
            raise StreamUnavailable("Kafka did not answer in time") from error
        if isinstance(error, Exception) and not isinstance(error, StreamUnavailable | ValueError):
            raise StreamUnavailable(f"Kafka is unavailable: {type(error).__name__}") from error
        raise
    return ActionStream(
        runtime, consumer, assigned, positions, channel, customer_id, key_number, event_name, keep
    )
