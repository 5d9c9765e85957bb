"""Latency bookkeeping: intended send time of each event to the first output it caused.

Latency is measured from the *intended* send time, not from when the event
was actually sent, so a stall anywhere (generator included) shows up in the
numbers instead of silently thinning the load (no coordinated omission).
Outputs name their cause by ``event_id``; each event counts once per stage,
at its first output. Values go into HDR histograms in microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.e2e.schedule import StepTimeline

NS_PER_US = 1_000
US_PER_MS = 1_000.0
# One microsecond to one hour, three significant digits (0.1 % error).
LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def event_id_of(payload: Any) -> str | None:
    """The input event an output was caused by.

    Actions and suppressions name it in ``trigger.event_id``; Concierge's
    resolved records carry the event under ``event``; the bare relays
    forward the event itself.
    """
    if not isinstance(payload, dict):
        return None
    for holder in (payload.get("trigger"), payload.get("event"), payload):
        if isinstance(holder, dict):
            event_id = holder.get("event_id")
            if isinstance(event_id, str):
                return event_id
    return None


@dataclass(frozen=True, slots=True)
class StageStats:
    """Latency over the measured events that reached a stage."""

    expected: int
    count: int
    censored: int
    p50_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None

    @property
    def fraction(self) -> float:
        """Share of measured events with an output at this stage."""
        return self.count / self.expected if self.expected else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "count": self.count,
            "fraction": round(self.fraction, 4),
            "censored": self.censored,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "p999_ms": self.p999_ms,
            "max_ms": self.max_ms,
        }


def _ms(histogram: HdrHistogram, percentile: float) -> float:
    return round(float(histogram.get_value_at_percentile(percentile)) / US_PER_MS, 3)


class StepBook:
    """What one ladder step expects and what each stage has delivered.

    ``every_stage`` is the stage every input event reaches (the per-event
    stage); events it has not delivered when the step closes are recorded
    at their age then, a lower bound, so an overloaded system cannot look
    fast by not answering.
    """

    def __init__(self, stages: Iterable[str], every_stage: str, timeline: StepTimeline) -> None:
        self.stages = tuple(stages)
        if every_stage not in self.stages:
            raise ValueError(f"{every_stage} is not one of {self.stages}")
        self.every_stage = every_stage
        self.timeline = timeline
        self.intended: dict[str, int] = {}
        self.measured: set[str] = set()
        self.seen: dict[str, set[str]] = {stage: set() for stage in self.stages}
        self.histograms = {stage: new_histogram() for stage in self.stages}
        self.completed_in_window = 0
        self.censored = 0
        self.closed = False

    def expect(self, event_id: str, intended_ns: int) -> None:
        self.intended[event_id] = intended_ns
        if self.timeline.measured(intended_ns):
            self.measured.add(event_id)

    def observe(self, stage: str, event_id: str, received_ns: int) -> bool:
        """Record an output; False when it is not the event's first at this stage."""
        seen = self.seen[stage]
        if self.closed or event_id in seen:
            return False
        seen.add(event_id)
        if stage == self.every_stage and (
            self.timeline.window_start_ns <= received_ns < self.timeline.window_end_ns
        ):
            self.completed_in_window += 1
        if event_id in self.measured:
            latency_us = max(LOWEST_US, (received_ns - self.intended[event_id]) // NS_PER_US)
            self.histograms[stage].record_value(min(latency_us, HIGHEST_US))
        return True

    def pending(self) -> int:
        """Events of the step (warm-up included) the per-event stage has not delivered."""
        return len(self.intended) - len(self.seen[self.every_stage])

    def close(self, now_ns: int) -> None:
        """End the step: later outputs are ignored, missing ones censored at their age."""
        if self.closed:
            return
        missing = self.measured - self.seen[self.every_stage]
        for event_id in missing:
            age_us = max(LOWEST_US, (now_ns - self.intended[event_id]) // NS_PER_US)
            self.histograms[self.every_stage].record_value(min(age_us, HIGHEST_US))
        self.censored = len(missing)
        self.closed = True

    def achieved_rate(self) -> float:
        """Per-event stage deliveries inside the measured window, per second."""
        return self.completed_in_window / self.timeline.measure_s

    def stats(self, stage: str) -> StageStats:
        histogram = self.histograms[stage]
        count = len(self.seen[stage] & self.measured)
        censored = self.censored if stage == self.every_stage else 0
        if histogram.get_total_count() == 0:
            return StageStats(len(self.measured), count, censored, None, None, None, None)
        return StageStats(
            expected=len(self.measured),
            count=count,
            censored=censored,
            p50_ms=_ms(histogram, 50.0),
            p99_ms=_ms(histogram, 99.0),
            p999_ms=_ms(histogram, 99.9),
            max_ms=round(histogram.get_max_value() / US_PER_MS, 3),
        )

    def all_stats(self) -> Mapping[str, StageStats]:
        return {stage: self.stats(stage) for stage in self.stages}


class RunBook:
    """Routes each output to the step its event belonged to, whenever it arrives."""

    def __init__(self) -> None:
        self._owner: dict[str, StepBook] = {}
        self.strays = 0
        self.late = 0

    def add(self, book: StepBook, intended: Iterable[tuple[str, int]]) -> None:
        for event_id, intended_ns in intended:
            book.expect(event_id, intended_ns)
            self._owner[event_id] = book

    def observe(self, stage: str, event_id: str | None, received_ns: int) -> None:
        book = None if event_id is None else self._owner.get(event_id)
        if event_id is None or book is None:
            self.strays += 1
        elif book.closed:
            self.late += 1
        else:
            book.observe(stage, event_id, received_ns)
