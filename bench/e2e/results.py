"""Results of a run as plain data, and the JSON written to ``bench/results/``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.e2e.latency import StageStats
from bench.e2e.schedule import GeneratorReport
from bench.e2e.systems import CONCIERGE, RELAY_CHAIN, RELAY_ONE_HOP
from bench.e2e.verdict import LadderPoint, StepVerdict, Sustained, throughput_ratio


@dataclass(frozen=True, slots=True)
class StepResult:
    offered_rate: float
    achieved_rate: float
    primary_stage: str
    stages: Mapping[str, StageStats]
    generator: GeneratorReport
    lag: Mapping[str, int]
    cpu: Mapping[str, float]
    verdict: StepVerdict

    @property
    def primary(self) -> StageStats:
        return self.stages[self.primary_stage]

    def point(self) -> LadderPoint:
        verdict = self.verdict
        return LadderPoint(
            self.offered_rate, self.achieved_rate, verdict.sustainable, verdict.keeps_up
        )

    def as_dict(self) -> dict[str, Any]:
        primary = self.primary
        return {
            "offered_rate": self.offered_rate,
            "achieved_rate": round(self.achieved_rate, 1),
            # The primary stage's latency, flat, for readers of one number per rate.
            "p50_ms": primary.p50_ms,
            "p99_ms": primary.p99_ms,
            "p999_ms": primary.p999_ms,
            "max_ms": primary.max_ms,
            "output_fraction": round(primary.fraction, 4),
            "stages": {name: stats.as_dict() for name, stats in self.stages.items()},
            "lag": dict(self.lag),
            "lag_total": sum(self.lag.values()),
            "cpu": {name: round(cores, 3) for name, cores in self.cpu.items()},
            "generator": self.generator.as_dict(),
            "valid": self.generator.valid,
            "sustainable": self.verdict.sustainable,
            "keeps_up": self.verdict.keeps_up,
            "reasons": list(self.verdict.reasons),
        }


@dataclass(slots=True)
class SystemResult:
    name: str
    description: str
    primary_stage: str
    every_stage: str
    processes: tuple[str, ...]
    steps: list[StepResult] = field(default_factory=list)
    sustained: Sustained | None = None
    # The highest rate kept up with, latency target aside: capacity.
    capacity: Sustained | None = None
    # Records on observed topics that name no event of the run (identity merge
    # records on the resolved topic, erasures): expected, counted for the curious.
    unattributed: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "primary_stage": self.primary_stage,
            "every_stage": self.every_stage,
            "processes": list(self.processes),
            **_maximum("max_sustainable", self.sustained),
            **_maximum("max_keeping_up", self.capacity),
            "error": self.error,
            "unattributed_records": self.unattributed,
            "steps": [step.as_dict() for step in self.steps],
        }


def _maximum(name: str, sustained: Sustained | None) -> dict[str, Any]:
    return {
        f"{name}_rate": None if sustained is None else sustained.rate,
        f"{name}_throughput": None if sustained is None else round(sustained.throughput, 1),
        # True when the top of the ladder passed: the real maximum may be higher.
        f"{name}_ceiling": False if sustained is None else sustained.ceiling,
    }


def _sustained(systems: Sequence[SystemResult], name: str) -> Sustained | None:
    return next((system.sustained for system in systems if system.name == name), None)


def _capacity(systems: Sequence[SystemResult], name: str) -> Sustained | None:
    return next((system.capacity for system in systems if system.name == name), None)


def ratios(systems: Sequence[SystemResult]) -> dict[str, float | None]:
    concierge = _sustained(systems, CONCIERGE)
    capacity = _capacity(systems, CONCIERGE)
    return {
        "ratio_to_one_hop_relay": throughput_ratio(concierge, _sustained(systems, RELAY_ONE_HOP)),
        "ratio_to_relay_chain": throughput_ratio(concierge, _sustained(systems, RELAY_CHAIN)),
        "capacity_ratio_to_one_hop_relay": throughput_ratio(
            capacity, _capacity(systems, RELAY_ONE_HOP)
        ),
        "capacity_ratio_to_relay_chain": throughput_ratio(
            capacity, _capacity(systems, RELAY_CHAIN)
        ),
    }


def results_document(
    systems: Sequence[SystemResult], run: Mapping[str, Any], criteria: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "schema": "concierge-bench-e2e/v1",
        "run": dict(run),
        "criteria": dict(criteria),
        # Concierge's headline numbers; each system's own are under "systems".
        **_maximum("max_sustainable", _sustained(systems, CONCIERGE)),
        **_maximum("max_keeping_up", _capacity(systems, CONCIERGE)),
        **ratios(systems),
        "systems": {system.name: system.as_dict() for system in systems},
    }
