"""Short garbage-collector pauses for a stage that runs for days.

CPython's cyclic collector stops the whole process while it scans, and a full
(oldest-generation) collection scans every object the collector tracks. In a
Concierge-only ``make bench`` ladder (2,000 customers) a stage held 110-185k
tracked objects, 95k of them from start-up (modules, classes, pydantic's
validators, Faust's services); full collections ran 2-6 times per 10 s and
took 70-165 ms each on this 2-core VM (~0.5-1 µs an object: the scan is bound
by memory latency), so every event in flight waited that long. The decoded
caches hold up to 10,000 contexts, so a busy worker's pauses grow with them.

What lives as long as the process need never be scanned again, and what a
stage keeps for long (decoded contexts, histories, identity links) are frozen
models without reference cycles: reference counting frees them when they are
replaced or evicted; the collector could only ever find them alive. So every
``freeze_seconds`` (and first soon after start-up) the young generations are
collected and whatever survived is moved to the permanent generation
(``gc.freeze``), which no collection scans. Freezing stops the collector from
scanning objects, not reference counting from freeing them.

The price: a reference cycle that is alive at a freeze (an in-flight future,
a caught exception and its frames) and dropped later is garbage the collector
no longer sees. Measured: up to ~9,000 such objects after 30 s of freezing
every second under load. So every ``reclaim_seconds`` the permanent generation
is unfrozen and collected once: one full pause per reclaim instead of several
every 10 s. ``concierge_gc_pause_seconds`` (per generation) and
``concierge_gc_frozen_objects`` show what the policy does.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

import faust
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Pauses from a young collection (~1 ms) to a full one over a large heap (~1 s).
PAUSE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


# Process-wide: ``gc.callbacks`` is global, and one process may host several
# apps (the tests do), each with its own registry. Registered on none; each
# service's registry reads it through ``GcCollector``.
PAUSE_SECONDS = Histogram(
    "concierge_gc_pause_seconds",
    "How long each garbage collection stopped the process, per generation",
    ["generation"],
    buckets=PAUSE_BUCKETS,
    registry=None,
)


class PauseRecorder:
    """Times every collection into ``PAUSE_SECONDS``; installed once per process."""

    def __init__(self) -> None:
        self._by_generation = [PAUSE_SECONDS.labels(str(generation)) for generation in (0, 1, 2)]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)


PAUSES = PauseRecorder()


class GcCollector(Collector):
    """``concierge_gc_pause_seconds{generation}`` and ``concierge_gc_frozen_objects``
    on a service's registry."""

    def collect(self) -> Iterator[Any]:
        yield from PAUSE_SECONDS.collect()
        yield GaugeMetricFamily(
            "concierge_gc_frozen_objects",
            "Objects in the permanent generation, which no collection scans",
            value=gc.get_freeze_count(),
        )


class FreezePolicy:
    """When to freeze the survivors and when to reclaim what freezing hid."""

    def __init__(self, reclaim_seconds: float, now: float) -> None:
        self._reclaim_seconds = reclaim_seconds
        self._last_reclaim = now

    def step(self, now: float) -> str:
        """Freeze, or (every ``reclaim_seconds``) reclaim and then freeze.
        Returns what it did: ``"freeze"`` or ``"reclaim"``."""
        if self._reclaim_seconds > 0 and now - self._last_reclaim >= self._reclaim_seconds:
            self._last_reclaim = now
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            return "reclaim"
        # Young cycles die here, not in the permanent generation.
        gc.collect(1)
        gc.freeze()
        return "freeze"


def instrument_gc(registry: CollectorRegistry) -> None:
    """Time collections and export them on ``registry``."""
    PAUSES.install()
    registry.register(GcCollector())


def keep_gc_pauses_short(app: faust.App, freeze_seconds: float, reclaim_seconds: float) -> None:
    """Freeze the survivors every ``freeze_seconds`` (0: never) and reclaim every
    ``reclaim_seconds`` (0: never), on the worker's event loop: a collection
    stops the process whichever thread runs it."""
    if freeze_seconds <= 0:
        return
    policy = FreezePolicy(reclaim_seconds, time.monotonic())

    @app.timer(freeze_seconds)  # type: ignore[untyped-decorator]
    async def freeze_what_survived() -> None:
        policy.step(time.monotonic())
