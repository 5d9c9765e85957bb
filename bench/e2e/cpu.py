"""CPU used per process over a step, in cores (CPU seconds per wall-clock second)."""

from __future__ import annotations

from collections.abc import Mapping

import psutil


def process_cpu_seconds(pid: int) -> float | None:
    """User + system time of one process (all its threads); None once it is gone.

    Children are not added: the bench's own children are the generator and
    the relays, measured on their own, and Concierge's workers start none.
    """
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return None
    return float(times.user + times.system)


def cores_used(
    before: Mapping[str, float | None], after: Mapping[str, float | None], wall_seconds: float
) -> dict[str, float]:
    """Per process, CPU seconds over the interval divided by its length."""
    used: dict[str, float] = {}
    for name, start in before.items():
        end = after.get(name)
        if start is None or end is None or wall_seconds <= 0:
            continue
        used[name] = max(0.0, end - start) / wall_seconds
    return used


class CpuMeter:
    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)

    def sample(self) -> dict[str, float | None]:
        return {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
