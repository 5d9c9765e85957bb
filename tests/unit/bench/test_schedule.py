from __future__ import annotations

from bench.e2e.schedule import (
    NS_PER_MS,
    NS_PER_S,
    GeneratorReport,
    LagTracker,
    StepTimeline,
    due_until,
    ladder_budget_seconds,
)


def test_due_until_returns_everything_due_by_now_and_nothing_later() -> None:
    offsets = [0, 10, 20, 30, 40]
    assert due_until(offsets, 0, -1) == 0
    assert due_until(offsets, 0, 0) == 1
    assert due_until(offsets, 1, 25) == 3
    assert due_until(offsets, 3, 10_000) == 5


def test_a_generator_that_keeps_its_schedule_is_valid() -> None:
    tracker = LagTracker(threshold_ns=50 * NS_PER_MS)
    for index in range(10):
        intended = index * NS_PER_MS
        tracker.record(intended, intended + 2 * NS_PER_MS)
    report = tracker.report()
    assert report.valid
    assert report.sent == 10
    assert report.late == 0
    assert report.max_lag_ms == 2.0


def test_falling_behind_past_the_threshold_makes_the_step_invalid_and_reports_the_max() -> None:
    tracker = LagTracker(threshold_ns=50 * NS_PER_MS)
    tracker.record(0, 10 * NS_PER_MS)
    tracker.record(NS_PER_MS, 121 * NS_PER_MS)
    # Early sends (clock skew within the loop) count as on time, never negative.
    tracker.record(5 * NS_PER_MS, 4 * NS_PER_MS)
    report = tracker.report()
    assert not report.valid
    assert report.max_lag_ms == 120.0
    assert report.late == 1


def test_a_failed_delivery_also_invalidates_the_step() -> None:
    tracker = LagTracker(threshold_ns=NS_PER_S)
    tracker.record(0, 0)
    tracker.failed()
    assert not tracker.report().valid


def test_the_generator_report_survives_its_trip_through_json() -> None:
    report = GeneratorReport(sent=5, errors=0, max_lag_ms=1.5, late=0, threshold_ms=200.0)
    assert GeneratorReport.from_dict(report.as_dict()) == report


def test_only_events_intended_inside_the_window_are_measured() -> None:
    timeline = StepTimeline(start_ns=1_000, warmup_s=2.0, measure_s=5.0, grace_s=3.0)
    assert timeline.window_start_ns == 1_000 + 2 * NS_PER_S
    assert timeline.window_end_ns == timeline.window_start_ns + 5 * NS_PER_S
    assert timeline.grace_end_ns == timeline.window_end_ns + 3 * NS_PER_S
    assert not timeline.measured(1_000)
    assert timeline.measured(timeline.window_start_ns)
    assert not timeline.measured(timeline.window_end_ns)


def test_the_budget_counts_every_step_of_every_ladder() -> None:
    assert ladder_budget_seconds(4, 5, 3.0, 15.0, 4.0, 15.0) == 4 * (15.0 + 5 * 22.5)
