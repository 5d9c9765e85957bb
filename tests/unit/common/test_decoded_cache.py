from __future__ import annotations

from libs.common.decoded_cache import DecodedCache


def test_a_hit_needs_the_same_bytes_so_a_changed_record_is_decoded_again() -> None:
    decoded: list[bytes] = []

    def decode(raw: bytes) -> str:
        decoded.append(raw)
        return raw.decode()

    cache = DecodedCache(decode, max_entries=10)
    assert cache.decode("c1", b"v1") == "v1"
    assert cache.decode("c1", b"v1") == "v1"
    assert decoded == [b"v1"]
    assert cache.decode("c1", b"v2") == "v2"
    assert decoded == [b"v1", b"v2"]


def test_least_recently_used_entries_go_first() -> None:
    cache = DecodedCache(bytes.decode, max_entries=2)
    cache.decode("a", b"1")
    cache.decode("b", b"2")
    cache.decode("a", b"1")  # a is now the most recent
    cache.decode("c", b"3")  # evicts b
    misses = cache.misses
    cache.decode("a", b"1")
    assert cache.misses == misses
    cache.decode("b", b"2")
    assert cache.misses == misses + 1


def test_remembered_values_are_served_and_forgotten_ones_are_not() -> None:
    cache = DecodedCache(bytes.decode)
    cache.remember("k", b"x", "decoded-elsewhere")
    assert cache.decode("k", b"x") == "decoded-elsewhere"
    cache.forget("k")
    assert cache.decode("k", b"x") == "x"


def test_the_cache_is_bounded_by_stored_bytes() -> None:
    cache = DecodedCache(bytes.decode, max_entries=100, max_bytes=10)
    cache.decode("a", b"12345")
    cache.decode("b", b"12345")
    assert cache.stored_bytes == 10
    cache.decode("c", b"123")  # over the bound: the oldest goes
    assert cache.stored_bytes == 8
    misses = cache.misses
    cache.decode("a", b"12345")
    assert cache.misses == misses + 1
