"""Keep recently used records decoded, keyed by their stored bytes.

Decoding a customer's context costs several times more than the reducers that
update it, and a customer's events come in bursts (a session). A hit needs
the stored bytes to be identical to the ones decoded, so the cache can never
serve a stale record, whatever changed the table (a rebalance, a recovery).
A record put ``Unencoded`` is remembered as that: its bytes, made when the
adapter writes it, are what RocksDB returns afterwards.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from libs.common.batch import TableValue, Unencoded

T = TypeVar("T")


class DecodedCache(Generic[T]):
    def __init__(
        self, decode: Callable[[bytes], T], max_entries: int = 10_000, max_bytes: int = 32 << 20
    ) -> None:
        # Bounded by stored bytes too: a decoded record takes a few times its
        # stored size, so 32 MiB of stored bytes stays well under 200 MiB.
        self._decode = decode
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        # key -> (what the table holds, its decoded value, its size counted)
        self._entries: OrderedDict[str, tuple[TableValue, T, int]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def load(self, key: str, stored: TableValue) -> T:
        """The decoded value of what a table holds for ``key``: an ``Unencoded``
        value is its own decoded value."""
        if isinstance(stored, Unencoded):
            value: T = stored.value
            return value
        return self.decode(key, stored)

    def decode(self, key: str, raw: bytes) -> T:
        entry = self._entries.get(key)
        if entry is not None and _same(entry[0], raw):
            self.hits += 1
            self._entries.move_to_end(key)
            return entry[1]
        self.misses += 1
        value = self._decode(raw)
        self.remember(key, raw, value)
        return value

    def remember(self, key: str, stored: TableValue, value: T) -> None:
        previous = self._entries.get(key)
        self.forget(key)
        # Not encoded yet, a value is counted at the size the key had (records
        # change size slowly); the entry bound holds regardless.
        unencoded_size = 0 if previous is None else previous[2]
        size = len(stored) if isinstance(stored, bytes) else unencoded_size
        self._entries[key] = (stored, value, size)
        self._bytes += size
        while self._entries and (
            len(self._entries) > self._max_entries or self._bytes > self._max_bytes
        ):
            _, (_, _, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted

    def forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def stored_bytes(self) -> int:
        return self._bytes


def _same(stored: TableValue, raw: bytes) -> bool:
    if isinstance(stored, Unencoded):
        return stored.encoded() == raw
    return stored == raw
