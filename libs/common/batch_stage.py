"""Batch at a time on Faust's consumer: the one module that leans on Faust internals.

Faust's per-record agent path costs 0.5-1.2 ms of CPU per record per hop
(asyncio scheduling per record, tiny produce requests, its send path), so a
stage's hot topics skip it. Faust stays the container: the app, group
membership and the assignor, RocksDB tables with changelogs, recovery,
standbys, offset commits, timers and the web server. Only the step where its
consumer hands fetched records to streams is replaced, for the topics a
``BatchStage`` owns:

1. ``BatchConsumer.getmany`` takes what one fetch brought, a batch per
   partition, and gives it to the stage in one round, under a lock that
   Faust's ``wait_empty`` (a rebalance, a stop) also takes. The stage runs the
   pure ``RecordHandler`` per record, each partition's in offset order. A
   record's table writes are staged; they join the stage's *pending* writes
   only if the handler returns (else the record is dead-lettered). Reads go
   through pending writes, so the next record of the same customer, in this
   round or the next, sees them.
2. The round's outputs are produced at once, without awaiting each.
3. A flusher, overlapping the next fetches, takes every round handled so far
   (a group commit: live traffic is many small batches), waits until their
   outputs are delivered, then produces their changelog records (the last
   table's, the stage's record of what it handled, only once the others' are
   delivered); once those are delivered it writes the table changes to
   RocksDB (one write batch per table partition, with the changelog offset
   recovery reads on from) and makes the rounds' next offsets committable.
   Faust's commit timer commits them.

So nothing is committed before what it produced is in Kafka, and table state
is never ahead of the outputs it records: a crash at any point redelivers the
uncommitted records, which are handled again idempotently (stages dedupe by
event id and decision id; docs/reliability.md). A rebalance waits, in Faust's
own ``wait_empty``, until every round in flight is flushed.

While Faust recovers a stage's table, all but the last changelog record of
each fetch are written straight to RocksDB (``BatchConsumer._restore``), the
last one through Faust so that its progress accounting stays its own.

Faust's internals used here, pinned by the exact faust-streaming version:
``Consumer.getmany/_wait_next_records/_new_offset/_acked/_committed_offset``,
``Store._db_for_partition`` and ``offset_key``, ``Recovery.in_recovery/
active_tps/active_offsets/flush_buffers``, the assignor's
``_perform_assignment`` and ``_global_table_standby_assignments``. tests/integration/common/
test_batch_stage.py checks them against a real broker. And aiokafka's: a batch
queued closed is sent without waiting for the linger (``MessageBatch.
remaining_linger``; tests/unit/common/test_changelog_batches.py), and each new
batch takes its linger from ``MessageAccumulator._linger_time`` (``fetch_pace.set_linger``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, NamedTuple, cast

import aiokafka
import faust
import rocksdict
from aiokafka.errors import KafkaError
from faust.assignor import PartitionAssignor
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport
from faust.types import TP
from mode.utils.futures import notify
from prometheus_client import Counter, Histogram

from libs.common.batch import (
    InputRecord,
    Output,
    RecordHandler,
    TableValue,
    TableView,
    Work,
    changelog_rounds,
    check_changelog_order,
    encoded,
    run_staged,
    write_last,
)
from libs.common.faust_app import (
    IdempotentProducer,
    Telemetry,
    app_principal,
    faust_ready,
    kafka_connection,
)
from libs.common.fetch_pace import (
    GATHERING,
    FetchPace,
    FetchPacer,
    linger_at,
    linger_of,
    pace_of,
    set_linger,
    set_pace,
)
from libs.common.guard import (
    LetterBuilder,
    exit_for_denial,
    exit_for_redelivery,
    exit_for_restart,
    raw_letter,
)
from libs.common.kafka import holds_records
from libs.common.kafka_security import denial_of
from libs.common.key_partitions import KeyPartitions
from libs.common.logging import get_logger
from libs.common.stall import Sample, StallDetector
from libs.contract.codec import to_json_bytes
from libs.contract.dlq import SourceRef

STALL_CHECK_SECONDS = 5.0
# Batches whose outputs or changelogs are not yet delivered; past this the
# fetching waits (memory stays bounded when the broker slows down).
MAX_BATCHES_IN_FLIGHT = 1000
# How long the recovery fast path waits for Faust to apply what it was handed.
CATCH_UP_SECONDS = 1.0
# Where batch_stage() leaves the stages of an app for its consumer.
STAGES_ATTRIBUTE = "_concierge_batch_stages"
TakeOver = Callable[[str, int, float], Awaitable[None]]
_MISSING = object()


_recovery_log = get_logger("concierge.recovery")


class ReadCommittedConsumerThread(AIOKafkaConsumerThread):
    """Reads committed records only. A channel system may publish in
    transactions: an event of an aborted one never happened and must not be
    acted on. Faust reads committed only in exactly-once mode, which is not
    used (design.md). Concierge's own producers use no transactions."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # What AIOKafkaConsumer(isolation_level="read_committed") keeps; read at start().
        consumer._isolation_level = "read_committed"
        # Gathering from the start (libs/common/fetch_pace.py); read at start().
        consumer._fetch_min_bytes, consumer._fetch_max_wait_ms = GATHERING
        return consumer

    @cached_property
    def _pacer(self) -> FetchPacer:
        return FetchPacer(time.monotonic())

    def pace_fetches(self, records_fetched: int) -> FetchPace:
        """Gather while many records come, wait on the broker while few do
        (libs/common/fetch_pace.py). Returns the pace."""
        pace = self._pacer.fetched(records_fetched, time.monotonic())
        consumer = self._consumer
        fetcher = None if consumer is None else consumer._fetcher
        if fetcher is not None and pace_of(fetcher) != pace:  # None: not started, or stopping
            set_pace(fetcher, pace)
        return pace

    async def on_start(self) -> None:
        await super().on_start()
        consumer = self._ensure_consumer()
        self._exit_on_denials(consumer._coordinator)

    def _exit_on_denials(self, coordinator: Any) -> None:
        """A refusal by the group coordinator (no ACL for the group, or for a
        subscribed topic) stops the worker with its one line. aiokafka keeps such
        an error for the next ``getmany``, which Faust never calls (it fetches
        through the fetcher), so the worker would wait for an assignment forever."""
        who = app_principal(cast(faust.App, self.consumer.app))
        log = get_logger("concierge.worker")
        push_error = coordinator._push_error_to_user

        def exit_or_push(error: BaseException) -> Any:
            denial = denial_of(error, who, "READ")
            if denial is not None:
                exit_for_denial(log, denial)
            return push_error(error)

        coordinator._push_error_to_user = exit_or_push
        if coordinator._pending_exception is not None:  # pushed while it started
            exit_or_push(coordinator._pending_exception)


class BatchConsumer(Consumer):
    """Faust's aiokafka consumer, handing the topics of batch stages a batch at a time."""

    @cached_property
    def handling(self) -> asyncio.Lock:
        """Held while fetched records are handled; see ``wait_empty``."""
        return asyncio.Lock()

    def _recovery_running(self) -> bool:
        return bool(self.app.tables.recovery.in_recovery)  # type: ignore[attr-defined]

    @property
    def batch_stages(self) -> dict[str, BatchStage]:
        stages: dict[str, BatchStage] = self.app.__dict__.get(STAGES_ATTRIBUTE, {})
        return stages

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _stage_of(self, tp: TP) -> BatchStage | None:
        return self.batch_stages.get(tp.topic)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Any]]:  # noqa: ASYNC109
        if not self.batch_stages:
            async for item in super().getmany(timeout):
                yield item
            return
        try:
            records, active = await self._wait_next_records(timeout)
        except KafkaError as error:
            # A fetch the broker refuses (no Read ACL on an input topic): Faust
            # would crash with a traceback and exit 1, to be restarted forever.
            denial = denial_of(error, app_principal(cast(faust.App, self.app)), "READ")
            if denial is not None:
                exit_for_denial(get_logger("concierge.worker"), denial)
            raise
        generation = self.app.consumer_generation_id
        thread = self._thread
        if isinstance(thread, ReadCommittedConsumerThread):
            pace = thread.pace_fetches(sum(map(len, records.values())) if records else 0)
            self._linger_at(pace)
        if records is None or self.should_stop:
            return
        if not self.flow_active:
            with contextlib.suppress(Exception):
                await self.perform_seek()
            return
        others: list[tuple[TP, Any]] = []
        rounds: dict[BatchStage, list[tuple[TP, Sequence[Any]]]] = {}
        for tp, batch in records.items():
            if not self.flow_active or self.app.consumer_generation_id != generation:
                return  # a rebalance began: reading restarts at the committed offsets
            stage = self._stage_of(tp)
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                if stage is not None and batch:
                    # Paused while the fetch was out (a recovery): read these again
                    # later, or the next batch would commit past them.
                    await self._seek(tp, batch[0].offset)
                continue
            if stage is None:
                if len(batch) > 1 and self._recovering(tp) and await self._faust_caught_up(tp):
                    # All but the last straight into RocksDB; the last goes the
                    # usual way, so Faust's recovery sees how far it got.
                    self._restore(tp, batch[:-1])
                    batch = batch[-1:]
                if batch:
                    self._handed_to_faust[tp] = batch[-1].offset
                others.extend((tp, record) for record in batch)
                continue
            rounds.setdefault(stage, []).append((tp, batch))
        # A rebalance's wait_empty takes the same lock: a round suspended at an
        # await (a take-over read-back, a full producer buffer) finishes and is
        # queued for flushing before the partitions can go.
        async with self.handling:
            for stage, batches in rounds.items():
                if not self.flow_active or self.app.consumer_generation_id != generation:
                    break
                await stage.handle_round(batches, generation)
            if self.flow_active and not self._recovery_running():
                for stage in set(self.batch_stages.values()):
                    await stage.run_jobs()
        for tp, record in others:
            yield tp, self._to_message(tp, record)

    def _linger_at(self, pace: FetchPace) -> None:
        """The producer's linger for the fetch pace (``fetch_pace.linger_at``)."""
        producer = self.app.producer._producer  # type: ignore[attr-defined]
        if producer is None:  # not started yet, or stopped
            return
        linger = linger_at(pace, self.app.conf.producer_linger)
        if linger_of(producer) != linger:
            set_linger(producer, linger)

    def _recovering(self, tp: TP) -> bool:
        """Whether ``tp`` is a batch stage table's changelog partition that Faust is
        recovering into this worker's active store now."""
        recovery = self.app.tables.recovery  # type: ignore[attr-defined]
        return bool(
            recovery.in_recovery
            and tp in recovery.active_tps
            and any(tp.topic in stage.changelogs for stage in self.batch_stages.values())
        )

    @cached_property
    def _handed_to_faust(self) -> dict[TP, int]:
        """Per changelog partition, the offset of the last record handed to Faust."""
        return {}

    async def _faust_caught_up(self, tp: TP) -> bool:
        """Whether Faust's recovery has applied (to its buffers) every record of
        ``tp`` handed to it: its queue is worked by another task, and a record
        still queued must not land after the newer ones written here. Waits a
        little for it; if it does not catch up, the batch goes Faust's way."""
        handed = self._handed_to_faust.get(tp)
        if handed is None:
            return True
        offsets = self.app.tables.recovery.active_offsets  # type: ignore[attr-defined]
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while _offset_or_none(offsets.get(tp)) < handed:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.001)
        return True

    def _restore(self, tp: TP, records: Sequence[Any]) -> None:
        """Changelog records written to the table's RocksDB in one write batch.

        Faust's recovery takes a changelog record at a time through its
        conductor, a queue and an event object: ~100 µs a record, 2,400
        customers/s for stage 2. Its buffered records are older than these:
        they are applied first, so a key's last value wins."""
        self.app.tables.recovery.flush_buffers()  # type: ignore[attr-defined]
        table = next(
            stage.changelogs[tp.topic]
            for stage in self.batch_stages.values()
            if tp.topic in stage.changelogs
        )
        store = table.data
        batch = rocksdict.WriteBatch(raw_mode=True)
        for record in records:
            if record.value is None:
                batch.delete(record.key)
            else:
                batch.put(record.key, record.value)
        batch.put(store.offset_key, str(records[-1].offset).encode())
        store._db_for_partition(tp.partition).write(batch)
        _recovery_log.debug(
            "changelog_restored", partition=f"{tp.topic}[{tp.partition}]", records=len(records)
        )

    def _new_offset(self, tp: TP) -> int | None:
        stage = self._stage_of(tp)
        if stage is None:
            return super()._new_offset(tp)
        return stage.committable.get(tp)

    def mark_committable(self, tp: TP) -> None:
        # Faust's commit walks the partitions it holds acks for.
        self._acked[tp]

    async def wait_empty(self) -> None:
        # A rebalance or a stop: every batch in flight is flushed first, so that
        # the final commit covers it and the table state matches the outputs.
        async with self.handling:
            for stage in set(self.batch_stages.values()):
                await stage.drain()
        await super().wait_empty()

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        for stage in set(self.batch_stages.values()):
            stage.forget_positions()
            if stage.on_assigned is not None:
                stage.on_assigned()
        await super().on_partitions_assigned(assigned, generation_id)

    def committed_offset(self, tp: TP) -> int | None:
        """The group's offset for ``tp`` as of this worker's last seek or commit."""
        offset = self._committed_offset.get(tp)
        return None if offset is None else int(offset)

    async def commit_past_empty(self, tp: TP, start: int, end: int) -> bool:
        """Commit ``end`` for ``tp`` if the group's offset is still ``start`` and the
        offsets between hold no record (the caller checked): a transactional
        producer's trailing commit marker would otherwise hold the commit (and
        the lag) one short for good."""
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


class BatchTransport(Transport):
    """Faust's aiokafka transport: idempotent producer, batch-capable consumer."""

    Producer = IdempotentProducer
    Consumer = BatchConsumer


class SingleWriterAssignor(PartitionAssignor):
    """Every active partition of the group goes to one member; the others are hot
    standbys. For a stage whose tables have one partition (identity: one writer
    over every identifier link) but whose inputs have many: a second worker
    must not handle input records against tables it does not own.

    The writer stays where it was (the member whose previous assignment had
    active partitions), so that a standby joining does not move it; a new group
    picks the member that would own the first table's partition 0."""

    _writers_before: frozenset[str] = frozenset()

    def _perform_assignment(self, cluster: Any, member_metadata: Any) -> Any:
        self._writers_before = frozenset(
            member
            for member, metadata in member_metadata.items()
            if any(self._get_client_metadata(metadata).assignment.actives.values())
        )
        return super()._perform_assignment(cluster, member_metadata)

    def _global_table_standby_assignments(self, assignments: Any, partitions_by_topic: Any) -> Any:
        assignments = super()._global_table_standby_assignments(assignments, partitions_by_topic)
        if len(assignments) < 2:
            return assignments
        changelogs = sorted(self._table_manager.changelog_topics)

        def owns_writer(member: str) -> tuple[bool, bool, int, str]:
            actives = assignments[member].actives
            owns_first = any(0 in actives.get(topic, ()) for topic in changelogs[:1])
            count = sum(map(len, actives.values()))
            return (member in self._writers_before, owns_first, count, member)

        writer = max(assignments, key=owns_writer)
        merged: dict[str, set[int]] = {}
        for assignment in assignments.values():
            for topic, partitions in assignment.actives.items():
                merged.setdefault(topic, set()).update(partitions)
        for member, assignment in assignments.items():
            if member == writer:
                assignment.actives = {t: sorted(p) for t, p in merged.items()}
                assignment.standbys = {}
            else:
                # Standby of every table partition the writer owns.
                assignment.actives = {}
                assignment.standbys = {
                    topic: sorted(partitions)
                    for topic, partitions in merged.items()
                    if topic in self._table_manager.changelog_topics
                }
        return assignments


class _Flush(NamedTuple):
    """One handled round of batches (or a job) waiting to be flushed."""

    next_offsets: dict[TP, int]  # empty for a job
    sends: list[asyncio.Future[Any]]
    writes: dict[tuple[str, int], dict[str, TableValue | None]]
    done: asyncio.Future[None] | None


class _PendingView:
    """A table partition as the handler sees it: pending writes over RocksDB."""

    __slots__ = ("_pending", "_read", "_writes")

    def __init__(
        self,
        pending: dict[str, TableValue | None],
        read: Callable[[str], bytes | None],
        writes: dict[str, TableValue | None],
    ) -> None:
        self._pending = pending
        self._read = read
        self._writes = writes

    def get(self, key: str) -> bytes | None:
        value = self._pending.get(key, _MISSING)
        if value is not _MISSING:
            return encoded(value)  # type: ignore[arg-type]
        return self._read(key)

    def read(self, key: str) -> TableValue | None:
        value = self._pending.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        return self._read(key)

    def put(self, key: str, value: TableValue) -> None:
        self._pending[key] = value
        write_last(self._writes, key, value)

    def delete(self, key: str) -> None:
        self._pending[key] = None
        write_last(self._writes, key, None)


@dataclass(eq=False)  # one per topic set: hashed by identity
class BatchStage:
    """The topics of one stage, drained a batch at a time (see the module docstring)."""

    app: faust.App
    name: str
    topics: frozenset[str]
    tables: Mapping[str, Any]
    # Groups of tables whose changelogs land one group after the other (flush).
    changelog_order: Sequence[frozenset[str]]
    handler: RecordHandler
    telemetry: Telemetry
    dlq_topic: str
    letter_for: LetterBuilder
    dlq_key: Callable[[bytes | None], bytes | None]
    table_partition: Callable[[int], int]
    on_take_over: TakeOver | None
    # Called on every new assignment of the group, before any record of it is handled:
    # a handler drops what it keeps in memory of partitions it may no longer own.
    on_assigned: Callable[[], None] | None
    records_counter: Counter
    batch_sizes: Histogram
    key_partitions: KeyPartitions = field(default_factory=KeyPartitions)
    # (table, table partition) -> key -> value written but not yet in RocksDB.
    pending: dict[tuple[str, int], dict[str, TableValue | None]] = field(default_factory=dict)
    committable: dict[TP, int] = field(default_factory=dict)
    _next: dict[TP, int] = field(default_factory=dict)
    _taken_over: dict[TP, int] = field(default_factory=dict)
    _in_flight: deque[_Flush] = field(default_factory=deque)
    _flushed: asyncio.Event | None = None
    _wake: asyncio.Event | None = None
    _flusher: asyncio.Task[None] | None = None
    _jobs: list[tuple[int, Work, asyncio.Future[None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.log = get_logger(f"concierge.{self.name}")

    @property
    def changelogs(self) -> dict[str, Any]:
        """Changelog topic -> its table."""
        return {table.changelog_topic.get_topic_name(): table for table in self.tables.values()}

    # -- the drain loop's side ------------------------------------------------

    def forget_positions(self) -> None:
        """A new assignment: reading of every partition restarts at its committed
        offset. What was committable is committed by now (wait_empty drained it)."""
        self._next.clear()
        self.committable.clear()

    async def handle_round(
        self, batches: Sequence[tuple[TP, Sequence[Any]]], generation: int
    ) -> None:
        """Every batch one fetch brought, in one round: live traffic is many small
        batches (a record or two per partition), so what costs per call (views,
        the clock, a flush) is paid once per fetch, not per batch.

        The partitions' records are interleaved by their Kafka timestamps, each
        partition's kept in offset order: a customer's login on
        `interactions.web` and the call a moment later on `interactions.phone`
        often arrive in one fetch, and taking one partition after the other
        would resolve the call first, as an unknown caller."""
        writes: dict[tuple[str, int], dict[str, TableValue | None]] = {}
        views: dict[int, dict[str, TableView]] = {}
        outputs: list[Output] = []
        next_offsets: dict[TP, int] = {}
        todos: list[list[tuple[int, int, TP, Any]]] = []
        now = datetime.now(UTC)
        for tp, records in batches:
            expected = self._next.get(tp)
            todo = [r for r in records if expected is None or r.offset >= expected]
            if not todo:
                continue
            if self.on_take_over is not None and self._taken_over.get(tp) != generation:
                await self._take_over(tp, todo[0])
                self._taken_over[tp] = generation
            number = len(todos)
            todos.append([(record.timestamp or 0, number, tp, record) for record in todo])
            self.batch_sizes.observe(len(todo))
            self.records_counter.inc(len(todo))
            next_offsets[tp] = self._next[tp] = todo[-1].offset + 1
        # heapq.merge never reorders the items of one input: offset order holds.
        for _, _, tp, record in heapq.merge(*todos, key=_by_time):
            table_partition = self.table_partition(tp.partition)
            tables = views.get(table_partition)
            if tables is None:
                tables = views[table_partition] = self._views(table_partition, writes)
            outputs.extend(
                self._handle_one(
                    InputRecord(
                        tp.topic,
                        tp.partition,
                        record.offset,
                        (record.timestamp or 0) / 1000,
                        record.key,
                        record.value,
                    ),
                    tables,
                    now,
                )
            )
        if next_offsets:
            await self._queue(_Flush(next_offsets, await self._send(outputs), writes, None))

    async def _take_over(self, tp: TP, first: Any) -> None:
        assert self.on_take_over is not None
        try:
            # Reading starts at the committed offset: the first record is the
            # oldest one that may have been handled before.
            await self.on_take_over(tp.topic, tp.partition, (first.timestamp or 0) / 1000)
        except Exception as error:
            exit_for_redelivery(
                self.log,
                error,
                principal=app_principal(self.app),
                operation="READ",
                partition=f"{tp.topic}[{tp.partition}]",
            )

    def _handle_one(
        self, record: InputRecord, views: Mapping[str, TableView], now: datetime
    ) -> Sequence[Output]:
        try:
            return run_staged(lambda tables: self.handler.handle(record, tables, now), views)
        except Exception as error:
            # A bug on this record: dead-lettered with its source, and the stream goes on.
            self.telemetry.failures.labels(type(error).__name__).inc()
            source = SourceRef(topic=record.topic, partition=record.partition, offset=record.offset)
            self.log.exception("handler_failed_dead_lettered", source=source.model_dump())
            letter = self.letter_for(
                record.value, source, f"{self.name} failed on this record ({type(error).__name__})"
            )
            return [Output(self.dlq_topic, self.dlq_key(record.key), to_json_bytes(letter))]

    def _views(
        self, partition: int, writes: dict[tuple[str, int], dict[str, TableValue | None]]
    ) -> dict[str, TableView]:
        views: dict[str, TableView] = {}
        for name, table in self.tables.items():
            slot = (name, partition)
            views[name] = _PendingView(
                self.pending.setdefault(slot, {}),
                _store_reader(table, partition),
                writes.setdefault(slot, {}),
            )
        return views

    async def _send(self, outputs: Iterable[Output]) -> list[asyncio.Future[Any]]:
        producer: Any = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
        metadata = producer.client.cluster
        # Each topic's partitions, read once per round (aiokafka reads them per record).
        topic_partitions: dict[str, Any] = {}
        sends = []
        for output in outputs:
            topic, key, partition = output.topic, output.key, output.partition
            if partition is None and key is not None:
                partitions = topic_partitions.get(topic)
                if partitions is None:
                    partitions = topic_partitions[topic] = metadata.partitions_for_topic(topic)
                if partitions:  # else not known yet: aiokafka waits for the metadata
                    partition = self.key_partitions.of(key, partitions)
            sends.append(await producer.send(topic, output.value, key=key, partition=partition))
        return sends

    async def _queue(self, flush: _Flush) -> None:
        self._in_flight.append(flush)
        self._ensure_flusher()
        assert self._wake is not None
        self._wake.set()
        while len(self._in_flight) > MAX_BATCHES_IN_FLIGHT:
            await self._wait_flushed()

    async def run_job(self, partition: int, job: Work) -> None:
        """Run ``job`` over the tables of ``partition`` between two batches (only the
        drain loop changes tables), and return once its writes are flushed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._jobs.append((partition, job, done))
        await done

    async def run_jobs(self) -> None:
        """Queued jobs, between two rounds; never while tables recover (the caller
        checks), and only on a table partition this worker writes."""
        jobs, self._jobs = self._jobs, []
        for partition, job, done in jobs:
            if not self._writes_partition(partition):
                done.set_exception(LookupError(f"table partition {partition} is not this worker's"))
                continue
            writes: dict[tuple[str, int], dict[str, TableValue | None]] = {}
            try:
                outputs = run_staged(job, self._views(partition, writes))
            except Exception as error:
                self.log.exception("job_failed")
                done.set_exception(error)
                continue
            await self._queue(_Flush({}, await self._send(outputs), writes, done))

    def _writes_partition(self, partition: int) -> bool:
        actives = self.app.assignor.assigned_actives()
        return all(
            TP(table.changelog_topic.get_topic_name(), partition) in actives
            for table in self.tables.values()
        )

    # -- the flusher's side ---------------------------------------------------

    def _ensure_flusher(self) -> None:
        if self._wake is None or self._flushed is None:
            self._wake, self._flushed = asyncio.Event(), asyncio.Event()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _wait_flushed(self) -> None:
        assert self._flushed is not None
        self._flushed.clear()
        await self._flushed.wait()

    async def drain(self) -> None:
        """Wait until every batch handled so far is flushed."""
        while self._in_flight:
            self._ensure_flusher()
            await self._wait_flushed()

    async def _flush_forever(self) -> None:
        assert self._wake is not None
        assert self._flushed is not None
        while True:
            if not self._in_flight:
                self._wake.clear()
                await self._wake.wait()
                continue
            # Everything handled so far is flushed together (a group commit):
            # live traffic comes as many small batches, one per partition per
            # fetch, and two round trips per batch would cap them at ~100/s.
            group = list(self._in_flight)
            try:
                await self._flush(group)
            except Exception as error:
                # Not delivered after the client's retries: nothing of this batch
                # or later may be committed or stored.
                exit_for_redelivery(
                    self.log, error, principal=app_principal(self.app), operation="WRITE"
                )
            for flush in group:
                self._in_flight.popleft()
                if flush.done is not None and not flush.done.done():
                    flush.done.set_result(None)
            self._flushed.set()

    async def _flush(self, group: Sequence[_Flush]) -> None:
        """Outputs delivered -> changelog records delivered -> RocksDB written (with the
        changelog offset it holds, in one write batch) -> offsets committable.

        The changelog goes before RocksDB: after a crash in between, recovery
        replays it into RocksDB. The other way round, a redelivered record would
        find its effect already in RocksDB, change nothing, and its changelog
        record would never be written (a worker taking the partition over
        would recover a stale value)."""
        outputs = [send for flush in group for send in flush.sends]
        if outputs:
            await asyncio.gather(*outputs)
        # In handling order, so a key's last write wins and is produced last.
        values: dict[tuple[str, int], dict[str, TableValue | None]] = {}
        for flush in group:
            for slot, writes in flush.writes.items():
                if writes:
                    target = values.setdefault(slot, {})
                    for key, value in writes.items():
                        write_last(target, key, value)
        # Values put decoded are encoded here, once per key (``Unencoded``).
        merged = {
            slot: {key: encoded(value) for key, value in writes.items()}
            for slot, writes in values.items()
        }
        producer: Any = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
        changelog_sends: list[tuple[str, int, list[tuple[asyncio.Future[Any], int]]]] = []
        # Each round is delivered before the next is sent: the stage orders its
        # tables so that a crash in between, which recovers the earlier rounds
        # ahead of the later ones, leaves state a redelivered record puts right
        # (intake: identity links before first sightings; decision: suppressions
        # in force, then the contact history, then the contexts; the callers say why).
        written = [slot for slot, writes in merged.items() if writes]
        for slots in changelog_rounds(written, self.changelog_order):
            sent = len(changelog_sends)
            for name, partition in slots:
                topic = self.tables[name].changelog_topic.get_topic_name()
                sends = await _send_batches(producer, topic, partition, merged[(name, partition)])
                changelog_sends.append((name, partition, sends))
            this_round = changelog_sends[sent:]
            await asyncio.gather(*(send for _, _, sends in this_round for send, _ in sends))
        for name, partition, sends in changelog_sends:
            store = self.tables[name].data
            batch = rocksdict.WriteBatch(raw_mode=True)
            for key, raw in merged[(name, partition)].items():
                if raw is None:
                    batch.delete(key.encode())
                else:
                    batch.put(key.encode(), raw)
            # What Store.set_persisted_offset writes: recovery reads on from there.
            last = max(send.result().offset + count - 1 for send, count in sends)
            batch.put(store.offset_key, str(last).encode())
            store._db_for_partition(partition).write(batch)
            pending = self.pending.get((name, partition), {})
            for key, value in values[(name, partition)].items():
                # A later batch may have written the key again: keep its value.
                if key in pending and pending[key] is value:
                    del pending[key]
        consumer = self.app.consumer
        for flush in group:
            for tp, next_offset in flush.next_offsets.items():
                self.committable[tp] = max(self.committable.get(tp, 0), next_offset)
                if isinstance(consumer, BatchConsumer):
                    consumer.mark_committable(tp)

    # -- queries ---------------------------------------------------------------

    def lookup(self, table: str, key: str) -> bytes | None:
        """A key's value as the stage sees it now (pending writes first), for queries
        answered by the worker that owns the key's partition."""
        for (name, _), writes in self.pending.items():
            if name == table and key in writes:
                return encoded(writes[key])
        value = self.tables[table].data._get(key.encode())
        return None if value is None else bytes(value)


def _by_time(item: tuple[int, int, TP, Any]) -> tuple[int, int]:
    """A record's Kafka timestamp, then its partition's place in the round."""
    return item[0], item[1]


def _offset_or_none(offset: int | None) -> int:
    return -1 if offset is None else offset


async def _send_batches(
    producer: Any, topic: str, partition: int, writes: Mapping[str, bytes | None]
) -> list[tuple[asyncio.Future[Any], int]]:
    """Produce one table partition's changelog records as whole batches: one future
    per batch, not per record (the flusher waits for them all anyway). Returns
    each batch's future (its base offset) and record count.

    Each batch is closed before it is queued: it is complete, and aiokafka sends
    a closed batch at once instead of holding it for the producer's linger. Open,
    each of a flush's changelog rounds waited out the linger before its request
    (decision: three rounds), and the outputs queued behind them: at 250 events/s
    a flush took 19-22 ms instead of 8 in stage 2, and event -> action p99 was
    77-80 ms instead of 54-56 (docs/benchmarks.md, "Linger")."""
    sends: list[tuple[asyncio.Future[Any], int]] = []
    builder, count = producer.create_batch(), 0
    for key, value in writes.items():
        if builder.append(timestamp=None, key=key.encode(), value=value) is None:
            if count == 0:
                raise ValueError(f"a {topic} record of {len(value or b'')} bytes fits no batch")
            builder.close()
            sends.append((await producer.send_batch(builder, topic, partition=partition), count))
            builder, count = producer.create_batch(), 0
            if builder.append(timestamp=None, key=key.encode(), value=value) is None:
                raise ValueError(f"a {topic} record of {len(value or b'')} bytes fits no batch")
        count += 1
    if count:
        builder.close()
        sends.append((await producer.send_batch(builder, topic, partition=partition), count))
    return sends


def _store_reader(table: Any, partition: int) -> Callable[[str], bytes | None]:
    store = table.data

    def read(key: str) -> bytes | None:
        value = store._db_for_partition(partition).get(key.encode())
        return None if value is None else bytes(value)

    return read


def batch_stage(
    app: faust.App,
    *,
    name: str,
    topics: Sequence[str],
    tables: Mapping[str, Any],
    changelog_order: Sequence[Collection[str]] | None = None,
    handler: RecordHandler,
    telemetry: Telemetry,
    dlq_topic: str,
    letter_for: LetterBuilder = raw_letter,
    dlq_key: Callable[[bytes | None], bytes | None] = lambda key: key,
    table_partition: Callable[[int], int] | None = None,
    on_take_over: TakeOver | None = None,
    on_assigned: Callable[[], None] | None = None,
    stall_after: float = 60.0,
) -> BatchStage:
    """Drain ``topics`` a batch at a time through ``handler`` (module docstring).

    ``changelog_order`` groups the tables whose changelog records are produced
    together, first group first (each delivered before the next is sent); by
    default all at once, which suits a stage whose tables need no order."""
    order = [tables] if changelog_order is None else changelog_order
    check_changelog_order(tables, order)
    stage = BatchStage(
        app=app,
        name=name,
        topics=frozenset(topics),
        tables=tables,
        changelog_order=[frozenset(group) for group in order],
        handler=handler,
        telemetry=telemetry,
        dlq_topic=dlq_topic,
        letter_for=letter_for,
        dlq_key=dlq_key,
        table_partition=table_partition or (lambda partition: partition),
        on_take_over=on_take_over,
        on_assigned=on_assigned,
        records_counter=Counter(
            f"concierge_{telemetry.health.service}_input_records",
            "Input records handled (a redelivered record counts again)",
            registry=telemetry.registry,
        ),
        batch_sizes=Histogram(
            f"concierge_{telemetry.health.service}_batch_records",
            "Records per fetched batch of one partition",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
            registry=telemetry.registry,
        ),
    )
    # Subscribed through Faust's conductor like an agent's topic; the consumer
    # hands its records to the stage, never to a stream.
    app.topics.add(app.topic(*topics))

    # Read by BatchConsumer (the consumer is created later, when the worker starts).
    registry: dict[str, BatchStage] = app.__dict__.setdefault(STAGES_ATTRIBUTE, {})
    for topic in topics:
        registry[topic] = stage

    watch_stalls(app, stage.topics, stall_after, stage.log)
    return stage


def watch_stalls(
    app: faust.App, source_topics: frozenset[str], stall_after: float, log: Any
) -> None:
    """Exit for a restart if a partition this worker owns stops being consumed
    (libs/common/stall.py)."""
    stalls: StallDetector[TP] = StallDetector(stall_after)

    @app.timer(STALL_CHECK_SECONDS)  # type: ignore[untyped-decorator]
    async def watch_for_stalled_partitions() -> None:
        consumer = app.consumer
        if stall_after <= 0 or not faust_ready(app) or not isinstance(consumer, BatchConsumer):
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
                if await holds_records(kafka_connection(app), tp.topic, tp.partition, start, end):
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
