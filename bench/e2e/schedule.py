"""The open-loop send plan, and how far the generator fell behind it.

Open loop: each event has an intended send time fixed before the run starts,
and the generator never waits for the system under test. If it cannot keep
its own schedule (a slow machine, a blocked producer buffer), the offered
load was not what the report says, so the step is marked invalid.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
INTENDED_HEADER = "bench-intended-ns"


@dataclass(frozen=True, slots=True)
class Planned:
    """One event of a step: when to send it (from the step's start), where, what."""

    offset_ns: int
    channel: str
    key: bytes | None
    event: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.event["event_id"])


def due_until(offsets: Sequence[int], start: int, elapsed_ns: int) -> int:
    """Index just past the last event due by ``elapsed_ns``, searching from ``start``."""
    return bisect_right(offsets, elapsed_ns, lo=start)


@dataclass(frozen=True, slots=True)
class GeneratorReport:
    sent: int
    errors: int
    max_lag_ms: float
    late: int
    threshold_ms: float

    @property
    def valid(self) -> bool:
        return self.errors == 0 and self.max_lag_ms <= self.threshold_ms

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "errors": self.errors,
            "max_lag_ms": round(self.max_lag_ms, 3),
            "late": self.late,
            "threshold_ms": self.threshold_ms,
            "valid": self.valid,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorReport:
        return cls(
            sent=int(data["sent"]),
            errors=int(data["errors"]),
            max_lag_ms=float(data["max_lag_ms"]),
            late=int(data["late"]),
            threshold_ms=float(data["threshold_ms"]),
        )


@dataclass(slots=True)
class LagTracker:
    """How late each send call was against its intended time."""

    threshold_ns: int
    sent: int = 0
    late: int = 0
    max_lag_ns: int = 0
    errors: int = field(default=0)

    def record(self, intended_ns: int, actual_ns: int) -> None:
        lag = max(0, actual_ns - intended_ns)
        self.sent += 1
        if lag > self.max_lag_ns:
            self.max_lag_ns = lag
        if lag > self.threshold_ns:
            self.late += 1

    def failed(self) -> None:
        self.errors += 1

    def report(self) -> GeneratorReport:
        return GeneratorReport(
            sent=self.sent,
            errors=self.errors,
            max_lag_ms=self.max_lag_ns / NS_PER_MS,
            late=self.late,
            threshold_ms=self.threshold_ns / NS_PER_MS,
        )


@dataclass(frozen=True, slots=True)
class StepTimeline:
    """Absolute wall-clock instants (ns) of one step: warm-up, measured window, grace."""

    start_ns: int
    warmup_s: float
    measure_s: float
    grace_s: float

    @property
    def window_start_ns(self) -> int:
        return self.start_ns + round(self.warmup_s * NS_PER_S)

    @property
    def window_end_ns(self) -> int:
        return self.window_start_ns + round(self.measure_s * NS_PER_S)

    @property
    def grace_end_ns(self) -> int:
        return self.window_end_ns + round(self.grace_s * NS_PER_S)

    def measured(self, intended_ns: int) -> bool:
        """Warm-up events are sent (the system must do their work) but not measured."""
        return self.window_start_ns <= intended_ns < self.window_end_ns


def ladder_budget_seconds(
    systems: int, rates: int, warmup_s: float, step_s: float, grace_s: float, startup_s: float
) -> float:
    """Worst-case wall time of a run: every step of every ladder, full grace each time."""
    per_step = 0.5 + warmup_s + step_s + grace_s
    return systems * (startup_s + rates * per_step)
