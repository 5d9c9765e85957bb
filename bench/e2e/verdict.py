"""Is a step sustainable, what is a system's maximum sustainable rate, and the ratios.

A system *keeps up* with a rate when, for the whole step, the generator kept
its schedule (else the step says nothing), throughput matched the offer, no
stage's backlog grew past a bound and every event came out the other end.
A rate is *sustainable* when the system keeps up and p99 latency also stays
under the target. Both maxima are reported: when a system misses the latency
target even at the lowest rate, its capacity still compares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Criteria:
    p99_target_ms: float = 50.0
    # Backlog allowed per consumer group at the end of the step, in seconds of
    # offered load. Faust and the relays commit once a second, so a healthy
    # stage already shows up to ~1 s of "lag" in its committed offsets.
    max_lag_seconds: float = 2.0
    # Achieved throughput must be at least this share of the offered rate.
    min_throughput_fraction: float = 0.9
    # Share of measured events that must reach the per-event stage by the end.
    min_completion: float = 0.99


@dataclass(frozen=True, slots=True)
class StepFacts:
    offered_rate: float
    achieved_rate: float
    generator_valid: bool
    p99_ms: float | None
    completion: float
    lag_by_group: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class StepVerdict:
    sustainable: bool
    keeps_up: bool
    reasons: tuple[str, ...]


def lag_limit(offered_rate: float, criteria: Criteria) -> int:
    return max(50, round(offered_rate * criteria.max_lag_seconds))


def judge(facts: StepFacts, criteria: Criteria) -> StepVerdict:
    reasons: list[str] = []
    if not facts.generator_valid:
        reasons.append("generator fell behind its schedule (step invalid)")
    floor = facts.offered_rate * criteria.min_throughput_fraction
    if facts.achieved_rate < floor:
        reasons.append(f"achieved {facts.achieved_rate:.0f}/s < {floor:.0f}/s")
    if facts.completion < criteria.min_completion:
        reasons.append(f"only {facts.completion:.1%} of events came out")
    limit = lag_limit(facts.offered_rate, criteria)
    for group, lag in sorted(facts.lag_by_group.items()):
        if lag > limit:
            # Group names carry the run's topic prefix; the tail names the stage.
            reasons.append(f"lag {lag} > {limit} in {group.rsplit('.', 1)[-1]}")
    keeps_up = not reasons
    if facts.p99_ms is None:
        reasons.append("no latency samples")
    elif facts.p99_ms > criteria.p99_target_ms:
        reasons.append(f"p99 {facts.p99_ms:.1f} ms > {criteria.p99_target_ms:g} ms")
    return StepVerdict(not reasons, keeps_up, tuple(reasons))


@dataclass(frozen=True, slots=True)
class LadderPoint:
    offered_rate: float
    achieved_rate: float
    sustainable: bool
    keeps_up: bool


@dataclass(frozen=True, slots=True)
class Sustained:
    rate: float
    throughput: float
    # True when the top of the ladder passed: the real maximum may be higher.
    ceiling: bool


def max_sustainable(
    points: Sequence[LadderPoint], ladder: Sequence[float], *, latency: bool = True
) -> Sustained | None:
    """The highest offered rate that was sustainable (or, with ``latency=False``,
    merely kept up with), with its achieved throughput."""
    passing = [point for point in points if (point.sustainable if latency else point.keeps_up)]
    if not passing:
        return None
    best = max(passing, key=lambda point: point.offered_rate)
    return Sustained(best.offered_rate, best.achieved_rate, best.offered_rate >= max(ladder))


def should_stop(points: Sequence[LadderPoint], stop_after_failures: int) -> bool:
    """Stop climbing after N consecutive steps the system could not keep up with:
    higher rates only fail harder, and an overloaded step's backlog would pollute
    the next. Missing only the latency target does not stop the climb, so
    capacity is still found."""
    if stop_after_failures <= 0:
        return False
    tail = points[-stop_after_failures:]
    return len(tail) == stop_after_failures and not any(point.keeps_up for point in tail)


def throughput_ratio(system: Sustained | None, baseline: Sustained | None) -> float | None:
    """Max sustainable throughput of ``system`` over ``baseline``'s.

    None when either sustained no rate of the ladder: the ratio is then below
    or above what the ladder can tell, and a made-up number would mislead.
    """
    if system is None or baseline is None or baseline.throughput <= 0:
        return None
    return round(system.throughput / baseline.throughput, 4)
