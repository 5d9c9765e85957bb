"""The collector policy: survivors frozen out of every scan, frozen cycles reclaimed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from libs.common.gc_pauses import PAUSES, FreezePolicy, instrument_gc

RECLAIM_SECONDS = 3600.0


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    """Something that can point at itself: a reference cycle."""

    def __init__(self) -> None:
        self.me: Node | None = None


def test_a_freeze_takes_what_survived_out_of_every_collection() -> None:
    decoded_contexts = [{"customer": str(n)} for n in range(5_000)]
    policy = FreezePolicy(RECLAIM_SECONDS, now=0.0)

    assert policy.step(now=5.0) == "freeze"

    assert gc.get_freeze_count() >= len(decoded_contexts)
    # What a collection scans no longer holds them...
    scanned = {id(obj) for obj in gc.get_objects()}
    assert not any(id(context) in scanned for context in decoded_contexts)
    # ...and reference counting still frees them.
    probe = Node()
    alive = weakref.ref(probe)
    policy.step(now=10.0)
    del probe
    assert alive() is None


def test_a_freeze_collects_young_cycles_first() -> None:
    gc.disable()  # no automatic collection may promote the cycle before the step
    try:
        cycle = Node()
        cycle.me = cycle
        gone = weakref.ref(cycle)
        del cycle

        FreezePolicy(RECLAIM_SECONDS, now=0.0).step(now=5.0)
    finally:
        gc.enable()

    assert gone() is None


def test_a_cycle_dropped_after_a_freeze_is_reclaimed_at_the_next_reclaim() -> None:
    policy = FreezePolicy(RECLAIM_SECONDS, now=0.0)
    in_flight = Node()
    in_flight.me = in_flight
    dropped = weakref.ref(in_flight)
    policy.step(now=5.0)
    del in_flight

    gc.collect()
    assert dropped() is not None, "frozen: no collection sees it (the price of freezing)"
    assert policy.step(now=10.0) == "freeze"
    assert dropped() is not None

    assert policy.step(now=RECLAIM_SECONDS) == "reclaim"
    assert dropped() is None
    assert gc.get_freeze_count() > 0, "what survived the reclaim is frozen again"


def test_no_reclaim_when_it_is_switched_off() -> None:
    policy = FreezePolicy(reclaim_seconds=0.0, now=0.0)
    assert {policy.step(now=t) for t in (5.0, RECLAIM_SECONDS, 10 * RECLAIM_SECONDS)} == {"freeze"}


def test_every_collection_is_timed_on_the_registry_per_generation() -> None:
    registry = CollectorRegistry()
    instrument_gc(registry)

    def full_collections() -> float:
        value = registry.get_sample_value("concierge_gc_pause_seconds_count", {"generation": "2"})
        assert value is not None
        return value

    before = full_collections()
    gc.collect()
    gc.collect()

    # At least: the allocator may start one of its own in between.
    assert full_collections() >= before + 2
    paused = registry.get_sample_value("concierge_gc_pause_seconds_sum", {"generation": "2"})
    assert paused is not None
    assert paused > 0
    gc.freeze()
    assert registry.get_sample_value("concierge_gc_frozen_objects") == gc.get_freeze_count() > 0
    exposition = generate_latest(registry).decode()
    assert 'concierge_gc_pause_seconds_bucket{generation="0",le="+Inf"}' in exposition


def test_the_pause_timer_is_installed_once_however_many_apps_a_process_hosts() -> None:
    for _ in range(3):
        instrument_gc(CollectorRegistry())
    assert gc.callbacks.count(PAUSES) == 1
