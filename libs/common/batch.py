"""The service-layer side of a batch stage: records in, outputs out, tables as mappings.

A stage's handler is plain code over these types and never sees Faust: the
adapter (``libs/common/batch_stage.py``) hands it each record of a fetched
batch in offset order, with a view of the stage's tables for the record's
partition, and sends the outputs it returns. Unit tests drive the same handler
with ``DictTable``s.

A record's table writes are staged while the handler runs (``run_staged``)
and kept only if it returns: a handler that raises on a record (a bug) leaves
no half-applied state behind, and the adapter dead-letters that record.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping, Sequence
from datetime import datetime
from typing import Any, Generic, NamedTuple, Protocol, TypeAlias, TypeVar

T = TypeVar("T")


class InputRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    # The record's Kafka timestamp, in seconds.
    timestamp: float
    key: bytes | None
    value: bytes | None


class Output(NamedTuple):
    """A record to produce; ``partition`` None lets the key choose, as Kafka's
    default partitioner does."""

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class Unencoded(Generic[T]):
    """A table value put decoded, encoded only when it is written.

    A customer's context is put on every event of theirs, but written (to
    RocksDB and the changelog) once per key per flush: the adapter merges a
    flush's writes, so a later put of the key replaces an earlier one that
    nothing read as bytes. Encoding a context at each put cost a quarter of
    stage 2's CPU while draining (75 µs for a 7.5 KB context). The bytes are
    made at most once, by whoever needs them first (the flusher, a query), and
    kept: a handler's decoded cache compares them with what RocksDB returns.
    """

    __slots__ = ("_bytes", "_encode", "value")

    def __init__(self, value: T, encode: Callable[[T], bytes]) -> None:
        self.value = value
        self._encode = encode
        self._bytes: bytes | None = None

    def encoded(self) -> bytes:
        if self._bytes is None:
            self._bytes = self._encode(self.value)
        return self._bytes

    def __repr__(self) -> str:
        return f"Unencoded({self.value!r})"


TableValue: TypeAlias = "bytes | Unencoded[Any]"
"""What a handler puts: bytes, or a value it keeps decoded (``Unencoded``)."""


def encoded(value: TableValue | None) -> bytes | None:
    """A put value as bytes (None for a delete)."""
    if value is None or type(value) is bytes:
        return value
    assert isinstance(value, Unencoded)
    return value.encoded()


class TableView(Protocol):
    """One table of the stage, as one record sees it (its own writes included)."""

    def get(self, key: str) -> bytes | None:
        """The value as bytes."""
        ...

    def read(self, key: str) -> TableValue | None:
        """The value as it was put: an ``Unencoded`` not yet written comes back as
        itself, so a handler gets its decoded value without decoding bytes."""
        ...

    def put(self, key: str, value: TableValue) -> None: ...

    def delete(self, key: str) -> None: ...


class RecordHandler(Protocol):
    """A stage's logic for one input record. Called for each record of a batch in
    offset order; returns what to produce. It may keep decoded caches and
    per-partition memory of its own, but writes durable state only through
    ``tables``."""

    def handle(
        self, record: InputRecord, tables: Mapping[str, TableView], now: datetime
    ) -> Sequence[Output]: ...


class DictTable:
    """A table held in a dict: the tables of unit tests and benchmarks, and of
    nothing else. ``data`` holds the values as put; ``snapshot`` as bytes."""

    def __init__(self, data: MutableMapping[str, TableValue] | None = None) -> None:
        self.data: MutableMapping[str, TableValue] = {} if data is None else data

    def get(self, key: str) -> bytes | None:
        return encoded(self.data.get(key))

    def read(self, key: str) -> TableValue | None:
        return self.data.get(key)

    def put(self, key: str, value: TableValue) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def snapshot(self) -> dict[str, bytes]:
        """Every value, as the bytes the adapter would write."""
        return {key: value for key in self.data if (value := self.get(key)) is not None}


class StagedTable:
    """Writes of one record over a table, kept apart until the record succeeds.

    ``writes`` maps a key to its new value, or to None for a delete."""

    __slots__ = ("_base", "writes")

    def __init__(self, base: TableView) -> None:
        self._base = base
        self.writes: dict[str, TableValue | None] = {}

    def get(self, key: str) -> bytes | None:
        if key in self.writes:
            return encoded(self.writes[key])
        return self._base.get(key)

    def read(self, key: str) -> TableValue | None:
        if key in self.writes:
            return self.writes[key]
        return self._base.read(key)

    def put(self, key: str, value: TableValue) -> None:
        write_last(self.writes, key, value)

    def delete(self, key: str) -> None:
        write_last(self.writes, key, None)


def write_last(writes: dict[str, TableValue | None], key: str, value: TableValue | None) -> None:
    """Record a write as the latest: a table partition's changelog records are
    produced in this order, and a crash may land only a prefix of them, so a
    handler that writes a key after the keys it refers to (the timeline's index
    after its records) must find it after them, even if it wrote it before."""
    writes.pop(key, None)
    writes[key] = value


Work = Callable[[Mapping[str, TableView]], Sequence[Output]]


def run_staged(work: Work, tables: Mapping[str, TableView]) -> Sequence[Output]:
    """``work`` over ``tables`` with its writes staged, kept only if it returns:
    a handler (or job) that raises leaves no half-applied state behind."""
    record_tables = {name: StagedTable(table) for name, table in tables.items()}
    outputs = work(record_tables)
    for name, table in record_tables.items():
        target = tables[name]
        for key, value in table.writes.items():
            if value is None:
                target.delete(key)
            else:
                target.put(key, value)
    return outputs


def changelog_rounds(
    written: Sequence[tuple[str, int]], order: Sequence[Collection[str]]
) -> list[list[tuple[str, int]]]:
    """The (table, partition) slots a flush wrote, in the rounds their changelog
    records are produced: each round is delivered before the next one is sent,
    so a crash in between recovers the earlier rounds' tables ahead of the later
    ones, never the reverse. ``order`` names every table once; rounds that wrote
    nothing are left out (they would cost a round trip for nothing)."""
    rounds: list[list[tuple[str, int]]] = []
    for tables in order:
        slots = [slot for slot in written if slot[0] in tables]
        if slots:
            rounds.append(slots)
    return rounds


def check_changelog_order(tables: Collection[str], order: Sequence[Collection[str]]) -> None:
    """ValueError unless ``order`` names each of ``tables`` exactly once."""
    named = [table for group in order for table in group]
    if sorted(named) != sorted(tables):
        raise ValueError(
            f"changelog order {[sorted(group) for group in order]} must name each of "
            f"{sorted(tables)} exactly once"
        )
