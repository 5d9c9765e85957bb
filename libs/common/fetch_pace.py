"""How a batch stage asks the broker for records: gathered when they are many, at once
when they are few.

Gathering, a fetch waits until 32 KiB are there or 10 ms have passed: every
fetch is a round of handling and a flush, whose cost is per round, not per
record (at 1,000 events/s, make bench: p99 event -> action 184 ms with Faust's
1 byte / 1.5 s, 109 ms with 32 KiB / 5 ms, 87 ms with 32 KiB / 10 ms). But a
gathering stage fetches a hundred times a second whatever comes: idle, that is
0.09 cores per stage doing nothing, and each record of light traffic waits out
the 10 ms. Waiting, a fetch asks for any byte and the broker holds it up to
500 ms: it answers the moment a record arrives, so a stage fetches once per
record, which is fewer fetches than gathering's hundred whenever fewer than a
hundred records a second come. So a stage waits below ``WAIT_BELOW`` records a
second and gathers above ``GATHER_ABOVE`` (apart, so that a rate in between
does not flip it on every fetch), measured over ``WINDOW_SECONDS``.

The settings are aiokafka's fetcher's, read each time it builds a request
(``libs/common/batch_stage.py`` applies them; the pins in constraints.txt hold
the attribute names). The pace sets the stage's producer linger too
(``linger_at``).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple


class FetchPace(NamedTuple):
    min_bytes: int
    max_wait_ms: int


GATHERING: Final = FetchPace(min_bytes=32 * 1024, max_wait_ms=10)
WAITING: Final = FetchPace(min_bytes=1, max_wait_ms=500)


WAIT_BELOW: Final = 50.0  # records a second
GATHER_ABOVE: Final = 100.0
WINDOW_SECONDS: Final = 1.0


class FetchPacer:
    """Counts the records a stage fetched and says at what pace to fetch next."""

    __slots__ = ("_count", "_since", "pace")

    def __init__(self, now: float) -> None:
        self.pace = GATHERING  # a stage starts behind its backlog, if it has one
        self._since = now
        self._count = 0

    def fetched(self, records: int, now: float) -> FetchPace:
        """``records`` more (0 for a wait that brought none) at ``now`` (monotonic
        seconds); the pace once a window's rate is known, the current one until then."""
        self._count += records
        elapsed = now - self._since
        if elapsed < WINDOW_SECONDS:
            return self.pace
        rate = self._count / elapsed
        if rate < WAIT_BELOW:
            self.pace = WAITING
        elif rate > GATHER_ABOVE:
            self.pace = GATHERING
        self._since, self._count = now, 0
        return self.pace


def linger_at(pace: FetchPace, configured_seconds: float) -> float:
    """The producer's linger at ``pace``. Waiting, records come one by one and each
    is a round of its own: holding its outputs for more only delays them (5 ms a
    stage). Gathering, a round's outputs share a request with the next rounds'
    for the configured linger (``CONCIERGE_PRODUCER_LINGER_MS``): without it the
    stages fell behind at 1,000 events/s (docs/benchmarks.md, "Linger")."""
    return 0.0 if pace == WAITING else configured_seconds


def pace_of(fetcher: Any) -> FetchPace:
    return FetchPace(fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms)


def set_pace(fetcher: Any, pace: FetchPace) -> None:
    """Applies to the next fetch request the fetcher builds (a pending one keeps its own)."""
    fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms = pace


def linger_of(producer: Any) -> float:
    """Seconds aiokafka's producer holds a new batch open (``linger_ms`` / 1000)."""
    linger: float = producer._message_accumulator._linger_time
    return linger


def set_linger(producer: Any, seconds: float) -> None:
    """Applies to the batches the producer starts from now on (each reads it when made)."""
    producer._message_accumulator._linger_time = seconds
