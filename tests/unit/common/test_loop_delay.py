"""The event-loop delay histogram: a loop kept from running shows, by how long."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from libs.common.loop_delay import LoopDelay

SAMPLE_SECONDS = 0.01
BLOCKED_SECONDS = 0.08


def _observed(registry: CollectorRegistry, at_least: float) -> float:
    """Samples recorded in buckets above ``at_least`` seconds."""
    below = registry.get_sample_value(
        "concierge_event_loop_delay_seconds_bucket", {"le": str(at_least)}
    )
    total = registry.get_sample_value("concierge_event_loop_delay_seconds_count")
    assert below is not None
    assert total is not None
    return total - below


def _busy(seconds: float) -> None:
    """Hold the loop the way a long handler round does: computing, not sleeping."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


class _Watched(LoopDelay):
    """Says when it has recorded a wake-up at least ``late`` seconds late."""

    def __init__(self, registry: CollectorRegistry, late: float) -> None:
        super().__init__(registry, SAMPLE_SECONDS, clock=self._read_clock)
        self._late = late
        self.sampling = asyncio.Event()
        self.saw_late = asyncio.Event()

    def _read_clock(self) -> float:
        self.sampling.set()  # the watcher has taken a sample's due time
        return time.perf_counter()

    def record(self, due: float, woke: float) -> None:
        super().record(due, woke)
        if woke - due >= self._late:
            self.saw_late.set()


async def test_a_round_that_holds_the_loop_shows_as_a_delay_as_long_as_it() -> None:
    registry = CollectorRegistry()
    loop_delay = _Watched(registry, late=0.05)
    watching = asyncio.create_task(loop_delay.watch())
    try:
        await asyncio.wait_for(loop_delay.sampling.wait(), timeout=5.0)
        _busy(BLOCKED_SECONDS)
        await asyncio.wait_for(loop_delay.saw_late.wait(), timeout=5.0)
        assert _observed(registry, 0.05) == 1  # one wake-up, late by the whole block
        assert _observed(registry, 1.0) == 0  # not by more than a noisy host adds to it
    finally:
        watching.cancel()


def test_an_early_wake_up_counts_as_on_time() -> None:
    registry = CollectorRegistry()
    loop_delay = LoopDelay(registry)

    loop_delay.record(due=10.0, woke=9.999)
    loop_delay.record(due=10.0, woke=10.2)

    assert registry.get_sample_value("concierge_event_loop_delay_seconds_sum") == pytest.approx(0.2)
    assert registry.get_sample_value("concierge_event_loop_delay_seconds_count") == 2
