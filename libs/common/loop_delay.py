"""How late a service's event loop runs what is due: a starved process, made visible.

A stage fetches, handles, produces, flushes and answers queries on one event
loop (the gateway serves every request on one). Whatever keeps that loop from
running delays all of it by as much: a long handler round, a garbage
collection, or the process waiting for a core while the host's cores are busy
elsewhere (a co-located broker, other pods, a container's CPU limit throttling
it). Consumer lag and the stage's own CPU do not show the last one: a starved
stage uses *less* CPU, not more.

Measured on the 2-core benchmark host (``make bench``, 250 events/s, the broker,
the generator and both stages on it; docs/benchmarks.md "Where a live event's
latency goes"): the decision stage's loop woke 15-60 ms late dozens of times in
30 s while its own thread used 0.2-12 ms of CPU in each of those windows. That
is the tail of event -> action at that rate, not the handlers.

``concierge_event_loop_delay_seconds``: every ``SAMPLE_SECONDS`` a task asks to
be woken after that long and records how much later it actually ran. A pause
shows in proportion to how much of the time it covers; the buckets say how long
the pauses are. Cheap: ten wake-ups a second (<0.1 % of a core).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Histogram

SAMPLE_SECONDS = 0.1
# From scheduling noise (~1 ms) to a stall that fails readiness probes (seconds).
DELAY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LoopDelay:
    """The histogram on a service's registry and the task that feeds it."""

    def __init__(
        self,
        registry: CollectorRegistry,
        sample_seconds: float = SAMPLE_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.sample_seconds = sample_seconds
        self._clock = clock
        self.delays = Histogram(
            "concierge_event_loop_delay_seconds",
            "How much later than asked the event loop woke a sleeping task: time the"
            " process could not run what was due (a long round, a collection, no free core)",
            buckets=DELAY_BUCKETS,
            registry=registry,
        )

    def record(self, due: float, woke: float) -> None:
        self.delays.observe(max(0.0, woke - due))

    async def watch(self) -> None:
        """Samples until cancelled; run it as a task on the loop to watch."""
        clock, interval = self._clock, self.sample_seconds
        while True:
            due = clock() + interval
            await asyncio.sleep(interval)
            self.record(due, clock())
