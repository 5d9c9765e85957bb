from __future__ import annotations

import pytest

from bench.e2e.verdict import (
    Criteria,
    LadderPoint,
    StepFacts,
    Sustained,
    judge,
    lag_limit,
    max_sustainable,
    should_stop,
    throughput_ratio,
)

CRITERIA = Criteria(p99_target_ms=50.0, max_lag_seconds=2.0, min_throughput_fraction=0.9)


def _facts(**overrides: object) -> StepFacts:
    values: dict[str, object] = {
        "offered_rate": 1000.0,
        "achieved_rate": 998.0,
        "generator_valid": True,
        "p99_ms": 30.0,
        "completion": 1.0,
        "lag_by_group": {"intake": 400, "decision": 900},
    }
    values.update(overrides)
    return StepFacts(**values)  # type: ignore[arg-type]


def test_a_step_that_keeps_up_is_sustainable() -> None:
    verdict = judge(_facts(), CRITERIA)
    assert verdict.sustainable
    assert verdict.keeps_up
    assert verdict.reasons == ()


def test_missing_only_the_latency_target_still_keeps_up() -> None:
    verdict = judge(_facts(p99_ms=80.0), CRITERIA)
    assert not verdict.sustainable
    assert verdict.keeps_up


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"generator_valid": False}, "generator fell behind"),
        ({"achieved_rate": 850.0}, "achieved 850/s < 900/s"),
        ({"completion": 0.9}, "only 90.0% of events came out"),
        ({"p99_ms": 51.0}, "p99 51.0 ms > 50 ms"),
        ({"p99_ms": None}, "no latency samples"),
        (
            {"lag_by_group": {"run.concierge-decision": 2001}},
            "lag 2001 > 2000 in concierge-decision",
        ),
    ],
)
def test_each_criterion_can_fail_a_step_and_says_why(
    overrides: dict[str, object], reason: str
) -> None:
    verdict = judge(_facts(**overrides), CRITERIA)
    assert not verdict.sustainable
    assert any(reason in text for text in verdict.reasons), verdict.reasons


def test_the_lag_bound_scales_with_the_rate_but_never_below_a_floor() -> None:
    assert lag_limit(1000.0, CRITERIA) == 2000
    assert lag_limit(10.0, CRITERIA) == 50


def test_the_max_sustainable_rate_is_the_highest_passing_rate() -> None:
    ladder = (250.0, 500.0, 1000.0, 2000.0)
    points = [
        LadderPoint(250.0, 250.0, True, True),
        LadderPoint(500.0, 497.0, True, True),
        LadderPoint(1000.0, 990.0, False, True),
        LadderPoint(2000.0, 700.0, False, False),
    ]
    assert max_sustainable(points, ladder) == Sustained(500.0, 497.0, ceiling=False)
    assert max_sustainable(points, ladder, latency=False) == Sustained(1000.0, 990.0, False)


def test_passing_the_top_of_the_ladder_says_the_maximum_may_be_higher() -> None:
    ladder = (250.0, 500.0)
    points = [LadderPoint(250.0, 250.0, True, True), LadderPoint(500.0, 500.0, True, True)]
    sustained = max_sustainable(points, ladder)
    assert sustained is not None
    assert sustained.ceiling


def test_no_passing_rate_means_no_maximum() -> None:
    assert max_sustainable([LadderPoint(250.0, 100.0, False, False)], (250.0,)) is None
    assert max_sustainable([], (250.0,)) is None


def test_the_ladder_stops_after_the_configured_run_of_steps_it_could_not_keep_up_with() -> None:
    passed, failed = LadderPoint(1, 1, True, True), LadderPoint(2, 1, False, False)
    slow = LadderPoint(2, 2, False, True)
    assert not should_stop([passed], 1)
    assert should_stop([passed, failed], 1)
    assert not should_stop([passed, failed], 2)
    assert should_stop([failed, failed], 2)
    assert not should_stop([failed, failed], 0)
    # Only missing the latency target: climb on, capacity is still to be found.
    assert not should_stop([passed, slow], 1)


def test_throughput_ratios_compare_max_sustainable_throughputs() -> None:
    concierge = Sustained(500.0, 490.0, ceiling=False)
    relay = Sustained(2000.0, 1960.0, ceiling=True)
    assert throughput_ratio(concierge, relay) == 0.25
    assert throughput_ratio(None, relay) is None
    assert throughput_ratio(concierge, None) is None
