"""Keep recently used records decoded, keyed by their stored bytes.

Decoding a customer's context costs several times more than the reducers that
update it, and a customer's events come in bursts (a session). A hit needs
the stored bytes to be identical to the ones decoded, so the cache can never
serve a stale record, whatever changed the table (a rebalance, a recovery).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

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
        self._entries: OrderedDict[str, tuple[bytes, T]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def decode(self, key: str, raw: bytes) -> T:
        entry = self._entries.get(key)
        if entry is not None and entry[0] == raw:
            self.hits += 1
            self._entries.move_to_end(key)
            return entry[1]
        self.misses += 1
        value = self._decode(raw)
        self.remember(key, raw, value)
        return value

    def remember(self, key: str, raw: bytes, value: T) -> None:
        self.forget(key)
        self._entries[key] = (raw, value)
        self._bytes += len(raw)
        while self._entries and (
            len(self._entries) > self._max_entries or self._bytes > self._max_bytes
        ):
            _, (evicted, _) = self._entries.popitem(last=False)
            self._bytes -= len(evicted)

    def forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[0])

    @property
    def stored_bytes(self) -> int:
        return self._bytes
