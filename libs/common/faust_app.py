"""One way to build a Faust app, so every stateful service gets the same guarantees.

- at-least-once processing; ``exactly_once`` is not used (open Faust bugs), so
  services make effects idempotent with ids kept in their tables;
- producers with ``acks=all`` and idempotence on (Faust turns idempotence on
  only in exactly-once mode, hence ``IdempotentTransport``);
- RocksDB tables with small, explicit caches: RocksDB opens one database per
  partition, and Faust's defaults (2 GiB block cache, 3 x 64 MiB write buffers
  per database) would not fit every partition of every service on one machine;
- internal topics (changelogs) named after the app id, which carries the
  deployment's topic prefix, so they never collide with contract topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import aiokafka
import faust
from faust.sensors import Sensor
from faust.transport.drivers.aiokafka import (
    AIOKafkaConsumerThread,
    Consumer,
    Producer,
    Transport,
)
from faust.types import TP, Message
from faust.types.tuples import ack_lock
from faust.web import Request, Response, View
from mode.utils.futures import notify
from mode.utils.times import Seconds
from prometheus_client import CollectorRegistry, Counter

from libs.common.guard import (
    Guard,
    LetterBuilder,
    exit_for_redelivery,
    exit_for_restart,
    raw_letter,
)
from libs.common.health import HealthState
from libs.common.in_flight import Deferred, InFlight
from libs.common.kafka import holds_records
from libs.common.logging import get_logger
from libs.common.read_order import ReadOrder, ReadPositions, Verdict
from libs.common.settings import CommonSettings
from libs.common.stall import Sample, StallDetector
from libs.common.topics import ERASED_WITHIN_MS
from libs.contract.dlq import SourceRef

# Per RocksDB database (one per table partition). With 4 partitions: identity 3
# tables x 1 partition, context 1 x 4, decision 2 x 4 = 15 databases, so
# ~15 x (8 + 2 x 4) MiB = ~0.25 GiB worst case for the whole stack.
ROCKSDB_OPTIONS: Mapping[str, Any] = {
    "driver": "rocksdict",
    "block_cache_size": 8 * 1024 * 1024,
    "block_cache_compressed_size": 0,
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 16 * 1024 * 1024,
    "max_open_files": 256,
}


STALL_CHECK_SECONDS = 5.0
SEEK_WAIT_SECONDS = 10.0


class IdempotentProducer(Producer):
    """Faust's aiokafka producer with idempotence on outside exactly-once mode."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


class ReadCommittedConsumerThread(AIOKafkaConsumerThread):
    """Reads committed records only. A channel system may publish in
    transactions: an event of an aborted one never happened and must not be
    acted on. Faust reads committed only in exactly-once mode, which is not used
    (above). Concierge's own producers use no transactions, so for them this
    changes nothing."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # What AIOKafkaConsumer(isolation_level="read_committed") keeps; read at start().
        consumer._isolation_level = "read_committed"
        return consumer


class HandledOnlyConsumer(Consumer):
    """Faust's aiokafka consumer, counting towards commits only records a handler finished.

    Faust's stream *skips* some records and acknowledges them so that lag does
    not grow: a record fetched before a rebalance (an older consumer
    generation), or one that reaches the stream while flow is stopped, as it is
    while a worker shuts down or rebalances. The skipped record was never
    handled, yet its ack lets the next commit pass it: one event in about one
    run in two was lost this way when a worker left under load
    (tests/reliability/test_rebalance.py; faust-streaming issue #312 and
    robinhood/faust#604 are relatives). Faust also takes acks for a partition
    between its revocation (where it forgets the partition's acks) and its next
    assignment, stale entries a later commit could use.

    So ``guarded_agent`` marks each record it settled (``handled``), and an ack
    counts only for a marked record of the current generation on a partition
    still assigned. Any other ack settles the record for Faust's waits and
    commits nothing: the record is read again by the partition's owner, at
    least once as everywhere else.
    """

    _closed_for_acks: frozenset[TP] = frozenset()

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._handled: weakref.WeakSet[Message] = weakref.WeakSet()
        self._sought_generation: int | None = None
        self._sought = asyncio.Event()
        self._read_offset: ReadPositions[TP] = ReadPositions()
        self._oldest: dict[TP, int] = {}
        self._oldest_generation: int | None = None

    async def read_again(self, tp: TP, offset: int, *, read_before: int) -> None:
        """Seek ``tp`` back to ``offset``; ``read_before`` is the record that showed
        the gap (see read_order.py)."""
        await self._seek(tp, offset)
        self._read_offset.rewind(tp, offset, read_before=read_before)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        # Faust counts offsets skipped between two records it reads as done, so
        # commits can pass them (transaction markers, compaction). A record left
        # over from before a rewind is no such skip: the offsets before it are
        # being read again.
        if not self._read_offset.rewinding(tp, offset_to):
            await super()._add_gap(tp, offset_from, offset_to)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        self._sought_generation = self.app.consumer_generation_id
        self._sought.set()

    async def committed_offset_of_generation(self, tp: TP, generation: int) -> int | None:
        """The group's offset for ``tp`` as this generation's seek found it. Faust can
        hand records to the agent before that seek has finished: wait for it."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SEEK_WAIT_SECONDS):
                while self._sought_generation is None or self._sought_generation < generation:
                    self._sought.clear()
                    await self._sought.wait()
        return self.committed_offset(tp)

    async def commit_past_empty(self, tp: TP, start: int, end: int) -> bool:
        """Commit ``end`` for ``tp`` if the group's offset is still ``start`` and the
        offsets between hold no record (the caller checked). Faust commits the
        offset after the last record handled, so a trailing commit marker would
        otherwise hold the commit (and the lag) one short for good."""
        while await self.maybe_wait_for_commit_to_finish():
            pass  # one commit at a time, as Faust's own commit() keeps it
        self._commit_fut = asyncio.Future()
        try:
            if self.committed_offset(tp) != start or tp not in self.assignment():
                return False
            return bool(await self._commit_offsets({tp: end}))
        finally:
            done, self._commit_fut = self._commit_fut, None
            notify(done)

    async def reading_starts_at(self, tp: TP, generation: int) -> int | None:
        """Where this generation's reading of ``tp`` starts: the group's committed
        offset or, on a partition the group never committed, its oldest offset
        (the reset policy is earliest). The oldest offsets of every such partition
        are asked for at once: the request waits behind the consumer's long-poll
        fetch (up to 1.5 s), and asking per partition held a new group's first
        records back for 1.5 s a partition (intake: 12 s of 16)."""
        committed = await self.committed_offset_of_generation(tp, generation)
        if committed is not None:
            return committed
        if self._oldest_generation != generation or tp not in self._oldest:
            never = {p for p in self.assignment() if self.committed_offset(p) is None} | {tp}
            self._oldest = dict(await self.earliest_offsets(*never))
            self._oldest_generation = generation
        return self._oldest.get(tp)

    def handled(self, message: Message) -> None:
        self._handled.add(message)

    def committed_offset(self, tp: TP) -> int | None:
        """The group's offset for ``tp`` as of this worker's last seek or commit."""
        offset = self._committed_offset.get(tp)
        return None if offset is None else int(offset)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self._closed_for_acks |= revoked
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        # The app already holds the new generation: older records stay refused.
        self._closed_for_acks -= assigned
        await super().on_partitions_assigned(assigned, generation_id)

    def ack(self, message: Message) -> bool:
        handled = message in self._handled
        self._handled.discard(message)
        if (
            handled
            and message.generation_id == self.app.consumer_generation_id
            and message.tp not in self._closed_for_acks
        ):
            return bool(super().ack(message))
        with ack_lock:
            message.acked = True
            self._unacked_messages.discard(message)
            notify(self._waiting_for_ack)
        return False


class IdempotentTransport(Transport):
    Producer = IdempotentProducer
    Consumer = HandledOnlyConsumer


class ExitOnSendError(Sensor):
    """A record Faust failed to deliver (after the client's retries) must not be
    committed past: Faust only logs it, so the worker exits for redelivery."""

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        exit_for_redelivery(get_logger("concierge.worker"), exc)


def bootstrap_servers(app: faust.App) -> str:
    """The app's brokers as a Kafka client's bootstrap list."""
    return ",".join(f"{url.host}:{url.port}" for url in app.conf.broker)


def broker_url(settings: CommonSettings) -> str:
    # "concierge://" selects IdempotentTransport (registered as a Faust
    # transport entry point in pyproject.toml).
    servers = [
        server.strip() for server in settings.kafka_bootstrap_servers.split(",") if server.strip()
    ]
    return ";".join(f"concierge://{server}" for server in servers)


def create_faust_app(
    service: str,
    settings: CommonSettings,
    *,
    web_port: int,
    data_dir: Path,
    standby_replicas: int = 0,
    commit_interval: Seconds = 1.0,
) -> faust.App:
    app_id = f"{settings.topic_prefix}concierge-{service}"
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=broker_url(settings),
        store="rocksdb://",
        datadir=str(data_dir),
        web_enabled=True,
        web_host=settings.http_host,
        web_port=web_port,
        web_bind=settings.http_host,
        web_in_thread=False,
        producer_acks=-1,
        producer_linger_ms=5,
        # Contexts travel whole (5 KB typical) and every table write adds a
        # changelog record: Faust's 16 KiB batches held about three of them.
        producer_max_batch_size=512 * 1024,
        producer_max_request_size=4 * 1024 * 1024,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        table_standby_replicas=standby_replicas,
        broker_commit_interval=commit_interval,
        # A crashed worker's partitions move after 10 s, not Faust's 60 s default.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        table_cleanup_interval=60.0,
        stream_wait_empty=True,
        worker_redirect_stdouts=False,
        autodiscover=False,
        # Our records are bytes that the contract models decode; Faust only moves them.
        key_serializer="raw",
        value_serializer="raw",
    )
    app.sensors.add(ExitOnSendError())
    return app


def create_table(
    app: faust.App,
    name: str,
    *,
    partitions: int,
    help: str,
    ttl: timedelta | None = None,
) -> Any:
    """A RocksDB table of bytes -> bytes; domain records encode themselves.

    With ``ttl``, entries are bounded in time on both sides: RocksDB drops them
    at compaction past the TTL, and the changelog deletes segments past it.
    """
    options: dict[str, Any] = dict(ROCKSDB_OPTIONS)
    # Same configs as libs.common.topics.changelog_topics, which creates them.
    topic_configs: dict[str, str] = {"max.compaction.lag.ms": str(ERASED_WITHIN_MS)}
    if ttl is not None:
        options["ttl"] = int(ttl.total_seconds())
        topic_configs["cleanup.policy"] = "compact,delete"
        topic_configs["retention.ms"] = str(int(ttl.total_seconds() * 1000))
    return app.Table(
        name,
        default=None,
        partitions=partitions,
        help=help,
        options=options,
        # bytes types select the raw codec: keys must hash like the topics'
        # raw keys, or table_route would send a query to the wrong worker.
        key_type=bytes,
        value_type=bytes,
        extra_topic_configs=topic_configs,
    )


def source_of(event: Any) -> SourceRef:
    """Where a Faust event's message sits in Kafka."""
    message = event.message
    return SourceRef(topic=message.topic, partition=message.partition, offset=message.offset)


# A handler returns the sends it queued and what to record once they are
# delivered (see libs/common/in_flight.py), or None if it has nothing to wait for.
Handler = Callable[[bytes | None, bytes | None, SourceRef], Awaitable[Deferred | None]]
# Called before the first record a generation hands the agent from a partition:
# (partition, that record's timestamp in seconds). Reading starts at the group's
# committed offset, so it is the oldest record that may have been handled before.
TakeOver = Callable[[TP, float], Awaitable[None]]


@dataclass(frozen=True)
class Telemetry:
    """One service's metrics registry and health, and its count of dead-lettered bugs."""

    health: HealthState
    failures: Counter

    @property
    def registry(self) -> CollectorRegistry:
        return self.health.registry


def observe(app: faust.App, service: str) -> Telemetry:
    """A metrics registry, /health, /ready (worker joined and recovered) and /metrics."""
    health = HealthState(service, registry=CollectorRegistry())
    health.add_readiness_check("worker", lambda: faust_ready(app))
    install_health_views(app, health)
    failures = Counter(
        f"concierge_{service}_failures",
        "Records dead-lettered by a handler bug",
        ["error"],
        registry=health.registry,
    )
    return Telemetry(health, failures)


def guarded_agent(
    app: faust.App,
    topic: Any,
    *,
    name: str,
    telemetry: Telemetry,
    dlq_topic: str,
    handle: Handler,
    letter_for: LetterBuilder = raw_letter,
    dlq_key: Callable[[bytes | None], bytes | None] = lambda key: key,
    stall_after: float = 60.0,
    on_take_over: TakeOver | None = None,
) -> None:
    """An agent that runs ``handle(value, key, source)`` for each record under ``Guard``,
    acknowledging in input order once the record's outputs are delivered, and
    exiting for a restart if a partition it owns stops being consumed.
    ``on_take_over`` prepares a partition's first record of each generation; it
    failing is taken as Kafka being unavailable (exit, records redelivered)."""
    dlq = app.topic(dlq_topic)
    guard = Guard(
        telemetry.health.service,
        lambda key, value: dlq.send(key=key, value=value),
        telemetry.failures,
        letter_for,
        dlq_key,
    )

    log = get_logger(f"concierge.{telemetry.health.service}")
    stalls: StallDetector[TP] = StallDetector(stall_after)
    source_topics = frozenset(topic.topics)

    def send_failed(error: BaseException) -> None:
        exit_for_redelivery(log, error)

    @app.timer(STALL_CHECK_SECONDS)  # type: ignore[untyped-decorator]
    async def watch_for_stalled_partitions() -> None:
        consumer = app.consumer
        if (
            stall_after <= 0
            or not faust_ready(app)
            or not isinstance(consumer, HandledOnlyConsumer)
        ):
            stalls.reset()
            return
        owned = [tp for tp in consumer.assignment() if tp.topic in source_topics]
        try:
            # Bounded: a check that waited out a broker outage would count the
            # outage as time the partitions were not consumed.
            async with asyncio.timeout(STALL_CHECK_SECONDS):
                ends = await consumer.highwaters(*owned) if owned else {}
        except Exception as error:  # the broker away: that is for the clients' retries
            log.info("stall_check_skipped", error=repr(error))
            stalls.reset()
            return
        samples = {}
        for tp in owned:
            committed = consumer.committed_offset(tp)
            samples[tp] = Sample(
                waiting=max(0, ends.get(tp, 0) - (committed or 0)), committed=committed
            )
        stalled = stalls.observe(time.monotonic(), samples)
        for tp in list(stalled):
            # Records waiting may be no records at all: a transactional producer's
            # commit markers past the last record handled.
            start, end = samples[tp].committed or 0, ends[tp]
            try:
                if await holds_records(bootstrap_servers(app), tp.topic, tp.partition, start, end):
                    continue
            except Exception as error:  # could not tell: look again at the next check
                log.info("stall_check_skipped", error=repr(error))
                stalls.reset()
                return
            if await consumer.commit_past_empty(tp, start, end):
                log.info(
                    "offsets_without_records_committed",
                    partition=f"{tp.topic}[{tp.partition}]",
                    first=start,
                    last=end - 1,
                )
            stalled.remove(tp)
        if stalled:
            exit_for_restart(
                log,
                "partition_stalled_exiting",
                partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in stalled),
                waiting={f"{tp.topic}[{tp.partition}]": samples[tp].waiting for tp in stalled},
                seconds=stall_after,
            )

    @app.agent(topic, name=name)
    async def run_handler(stream: Any) -> None:
        # Acks are ours: Faust acks an event when the loop moves on, even when the
        # handler was cancelled half-way (a worker stopping or losing the
        # partition), and the commit would then skip a record never handled.
        manual = stream.noack()

        async def ack_handled(event: Any) -> None:
            consumer = app.consumer
            if isinstance(consumer, HandledOnlyConsumer):
                consumer.handled(event.message)
            await manual.ack(event)

        window: InFlight[Any] = InFlight(ack_handled, send_failed)
        order: ReadOrder[TP] = ReadOrder()
        taken_over: dict[TP, int] = {}  # partition -> the generation it was prepared in

        async def take_over(message: Message) -> None:
            generation = message.generation_id or 0
            if on_take_over is None or taken_over.get(message.tp) == generation:
                return
            try:
                # A record without a timestamp (pre-0.10 format) reads everything back.
                await on_take_over(message.tp, message.timestamp or 0.0)
            except Exception as error:
                exit_for_redelivery(log, error, partition=f"{message.topic}[{message.partition}]")
            taken_over[message.tp] = generation

        async def in_order(message: Message) -> bool:
            """Whether to handle ``message`` now (read_order.py); if not, it is read
            again later or was handled already."""
            consumer = app.consumer
            if not isinstance(consumer, HandledOnlyConsumer):
                return True
            tp, generation = message.tp, message.generation_id or 0
            if order.knows(tp, generation):
                committed = consumer.committed_offset(tp)
            else:
                committed = await consumer.reading_starts_at(tp, generation)
            verdict = order.check(tp, message.offset, generation, committed)
            where = f"{tp.topic}[{tp.partition}]"
            if verdict.verdict is Verdict.SKIP:
                return False
            if verdict.verdict is Verdict.HANDLE:
                if verdict.expected is not None and message.offset != verdict.expected:
                    log.info(
                        "offsets_without_records",
                        partition=where,
                        first=verdict.expected,
                        last=message.offset - 1,
                    )
                return True
            expected = verdict.expected if verdict.expected is not None else message.offset
            oldest = (await consumer.earliest_offsets(tp)).get(tp, 0)
            if expected < oldest:
                log.warning(
                    "records_gone_reading_on", partition=where, expected=expected, oldest=oldest
                )
                return True
            log.warning(
                "records_missed_reading_again",
                partition=where,
                expected=expected,
                got=message.offset,
            )
            await consumer.read_again(tp, expected, read_before=message.offset)
            return False

        try:
            async for event in manual.events():
                message = event.message
                if not await in_order(message):
                    # Not marked handled: settled for Faust, never committed.
                    await manual.ack(event)
                    continue
                await take_over(message)
                source = source_of(event)
                deferred = await guard.run(
                    partial(handle, message.value, message.key, source),
                    key=message.key,
                    value=message.value,
                    source=source,
                )
                order.handled(message.tp, message.offset, message.generation_id or 0)
                await window.add(event, deferred)
        finally:
            # Stopping: whatever is already delivered is settled, so the final
            # commit covers it and it is not handled twice after a restart.
            await window.settle()


def faust_ready(app: faust.App) -> bool:
    """Ready once the worker has joined its group and recovered its tables."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return bool(
        app.producer is not None
        and not app.rebalancing
        and not recovery.in_recovery
        and recovery.completed.is_set()
    )


def install_health_views(app: faust.App, state: HealthState) -> None:
    """Serve /health, /ready and /metrics from the worker's own web server."""

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json(state.liveness())

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            is_ready, body = await state.readiness()
            return self.json(body, status=200 if is_ready else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            payload, content_type = state.metrics()
            return self.bytes(payload, content_type=content_type.split(";")[0])
