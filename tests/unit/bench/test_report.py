from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.drain_bench import Drained
from bench.e2e.latency import StageStats
from bench.e2e.plot import write_plot
from bench.e2e.report import render_markdown
from bench.e2e.results import StepResult, SystemResult, results_document
from bench.e2e.schedule import GeneratorReport
from bench.e2e.verdict import StepVerdict, Sustained
from bench.run import drain_document

RUN = {
    "id": "r1",
    "started_at": "2026-01-01T00:00:00+00:00",
    "host": "test (2 CPUs)",
    "partitions": 4,
    "linger_ms": 2,
    "warmup_seconds": 3.0,
    "step_seconds": 15.0,
    "payload_source": "simulator",
}
CRITERIA = {
    "p99_target_ms": 50.0,
    "max_lag_seconds": 2.0,
    "min_throughput_fraction": 0.9,
    "min_completion": 0.99,
}


def _stats(p99: float, count: int = 100) -> StageStats:
    return StageStats(100, count, 0, p99 / 4, p99, p99 * 1.2, p99 * 1.5)


def _step(rate: float, p99: float, ok: bool, stages: dict[str, StageStats]) -> StepResult:
    return StepResult(
        offered_rate=rate,
        achieved_rate=rate * (1.0 if ok else 0.5),
        primary_stage=next(iter(stages)),
        stages=stages,
        generator=GeneratorReport(int(rate), 0, 3.0, 0, 200.0),
        lag={"bench-r1.concierge.concierge-intake": 12 if ok else 9000},
        cpu={"intake": 0.4, "bench": 0.1},
        verdict=StepVerdict(ok, ok, () if ok else (f"p99 {p99:.1f} ms > 50 ms",)),
    )


def _systems() -> list[SystemResult]:
    relay = SystemResult("relay-1-hop", "relay", "output", "output", ("relay",))
    relay.steps = [
        _step(250, 10.0, True, {"output": _stats(10.0)}),
        _step(500, 12.0, True, {"output": _stats(12.0)}),
    ]
    relay.sustained = relay.capacity = Sustained(500.0, 500.0, ceiling=True)
    chain = SystemResult("relay-chain", "chain", "output", "output", ())
    chain.steps = [_step(250, 20.0, True, {"output": _stats(20.0)})]
    chain.sustained = chain.capacity = Sustained(250.0, 250.0, ceiling=False)
    concierge = SystemResult("concierge", "c", "action", "resolved", ("intake",))
    concierge.steps = [
        _step(250, 40.0, True, {"action": _stats(40.0, 30), "resolved": _stats(30.0)}),
        _step(500, 900.0, False, {"action": _stats(900.0), "resolved": _stats(800.0)}),
    ]
    concierge.sustained = concierge.capacity = Sustained(250.0, 125.0, ceiling=False)
    return [relay, chain, concierge]


def _document() -> dict[str, Any]:
    return results_document(_systems(), RUN, CRITERIA)


def test_the_document_carries_concierges_headline_numbers_and_ratios() -> None:
    document = _document()
    assert document["max_sustainable_rate"] == 250.0
    assert document["ratio_to_one_hop_relay"] == 0.25
    assert document["ratio_to_relay_chain"] == 0.5
    assert document["capacity_ratio_to_one_hop_relay"] == 0.25
    assert document["max_keeping_up_rate"] == 250.0
    step = document["systems"]["concierge"]["steps"][0]
    for key in ("p50_ms", "p99_ms", "p999_ms", "max_ms", "achieved_rate", "lag", "cpu"):
        assert key in step
    assert step["p99_ms"] == 40.0
    assert step["output_fraction"] == 0.3
    assert step["stages"]["resolved"]["p99_ms"] == 30.0
    json.dumps(document)  # plain data all the way down


def test_ratios_are_absent_rather_than_invented_when_concierge_sustained_nothing() -> None:
    systems = _systems()
    systems[-1].sustained = None
    document = results_document(systems, RUN, CRITERIA)
    assert document["ratio_to_one_hop_relay"] is None
    assert "n/a" in render_markdown(document)


def test_the_markdown_has_a_row_per_system_and_rate_and_says_why_a_step_failed() -> None:
    markdown = render_markdown(_document())
    assert "| Concierge (2 batch stages) | action | 500 | 250 |" in markdown
    assert "no: p99 900.0 ms > 50 ms" in markdown
    assert "| Concierge (2 batch stages) | 250 | resolved | 7.5 | 30.0 |" in markdown
    assert "concierge-intake 9000" in markdown
    assert "500 (500/s achieved), top of ladder: may be higher" in markdown
    assert "0.25x" in markdown


def test_the_plot_is_written_as_a_png(tmp_path: Path) -> None:
    path = tmp_path / "plot.png"
    write_plot(_document(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_drain_reports_the_shipped_deployment_and_stage_2_scaled_out_apart() -> None:
    drained = [
        Drained("relay-chain", 1000, {"relay-decision": 0.1}, {"relay": 0.01}),
        Drained("concierge", 1000, {"concierge-decision": 1.0}, {"decision": 0.5}),
        Drained(
            "concierge",
            1000,
            {"concierge-decision": 0.5},
            {"decision": 0.3, "decision-2": 0.3},
            decision_workers=2,
        ),
    ]
    document = {**_document(), **drain_document(drained)}
    # The headline figure stays one process per stage, comparable from run to run.
    assert document["drain_events_per_s"] == 1000.0
    assert document["drain_ratio_to_relay_chain"] == 0.1
    assert document["drain_scaled_out"] == {
        "decision_workers": 2,
        "events_per_s": 2000.0,
        "over_one_worker": 2.0,
    }
    assert set(document["drain"]) == {"relay-chain", "concierge", "concierge (2 decision workers)"}
    markdown = render_markdown(document)
    assert "With 2 decision workers (stage 2 scaled out by partitions): 2,000 events/s" in markdown
    assert "| concierge (2 decision workers) | 1,000 |" in markdown
