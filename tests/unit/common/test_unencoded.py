"""Table values put decoded and encoded only when written (libs/common/batch.py)."""

from __future__ import annotations

from collections.abc import Mapping

from libs.common.batch import (
    DictTable,
    Output,
    StagedTable,
    TableView,
    Unencoded,
    Work,
    encoded,
    run_staged,
)
from libs.common.decoded_cache import DecodedCache


class CountingEncoder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, value: int) -> bytes:
        self.calls += 1
        return str(value).encode()


def test_a_value_put_decoded_is_read_back_as_itself_and_encoded_once_when_needed() -> None:
    encode = CountingEncoder()
    table = DictTable()
    staged = StagedTable(table)
    staged.put("c1", Unencoded(41, encode))
    stored = staged.read("c1")
    assert isinstance(stored, Unencoded)
    assert stored.value == 41
    assert encode.calls == 0
    assert staged.get("c1") == b"41"
    assert encoded(stored) == b"41"
    assert encode.calls == 1


def test_puts_replaced_before_they_are_written_are_never_encoded() -> None:
    encode = CountingEncoder()
    table = DictTable()

    def put(count: int) -> Work:
        def work(tables: Mapping[str, TableView]) -> list[Output]:
            tables["t"].put("c1", Unencoded(count, encode))
            return []

        return work

    for count in range(5):
        run_staged(put(count), {"t": table})
    assert encode.calls == 0
    assert table.snapshot() == {"c1": b"4"}
    assert encode.calls == 1


def test_a_cached_value_put_decoded_is_a_hit_for_the_bytes_it_was_written_as() -> None:
    decoded: list[bytes] = []

    def decode(raw: bytes) -> int:
        decoded.append(raw)
        return int(raw)

    cache: DecodedCache[int] = DecodedCache(decode)
    stored = Unencoded(7, CountingEncoder())
    cache.remember("c1", stored, 7)
    assert cache.load("c1", stored) == 7
    # Written (the flusher encodes it), then read back from the store as bytes.
    assert cache.decode("c1", encoded(stored) or b"") == 7
    assert decoded == []
    assert cache.decode("c1", b"8") == 8
    assert decoded == [b"8"]


def test_the_cache_counts_a_value_put_decoded_at_the_size_its_key_had() -> None:
    cache: DecodedCache[int] = DecodedCache(int)
    cache.decode("c1", b"12345")
    cache.remember("c1", Unencoded(6, CountingEncoder()), 6)
    assert cache.stored_bytes == 5
    cache.remember("c2", Unencoded(6, CountingEncoder()), 6)
    assert cache.stored_bytes == 5
