from __future__ import annotations

import pytest

from bench.e2e.latency import RunBook, StepBook, event_id_of
from bench.e2e.schedule import NS_PER_MS, NS_PER_S, StepTimeline

START = 10 * NS_PER_S
TIMELINE = StepTimeline(start_ns=START, warmup_s=1.0, measure_s=2.0, grace_s=1.0)
IN_WINDOW = TIMELINE.window_start_ns


def _book() -> StepBook:
    return StepBook(("action", "resolved"), "resolved", TIMELINE)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"schema": "action/v1", "trigger": {"event_id": "e1"}, "decision_id": "d"}, "e1"),
        ({"kind": "event", "customer_id": "c", "event": {"event_id": "e2"}}, "e2"),
        ({"schema": "interaction/v1", "event_id": "e3"}, "e3"),
        ({"kind": "erasure", "customer_id": "c"}, None),
        (["not", "a", "dict"], None),
    ],
)
def test_an_output_names_its_cause(payload: object, expected: str | None) -> None:
    assert event_id_of(payload) == expected


def test_latency_runs_from_the_intended_time_and_counts_only_the_first_output() -> None:
    book = _book()
    book.expect("e1", IN_WINDOW)
    assert book.observe("action", "e1", IN_WINDOW + 20 * NS_PER_MS)
    assert not book.observe("action", "e1", IN_WINDOW + 90 * NS_PER_MS)
    stats = book.stats("action")
    assert stats.count == 1
    assert stats.p50_ms == pytest.approx(20.0, rel=0.01)
    assert stats.max_ms == pytest.approx(20.0, rel=0.01)


def test_warm_up_events_are_not_measured_but_their_work_counts_as_throughput() -> None:
    book = _book()
    book.expect("warm", START)
    book.expect("hot", IN_WINDOW)
    book.observe("resolved", "warm", IN_WINDOW + 5 * NS_PER_MS)
    book.observe("resolved", "hot", IN_WINDOW + 7 * NS_PER_MS)
    stats = book.stats("resolved")
    assert stats.expected == 1
    assert stats.count == 1
    assert stats.max_ms == pytest.approx(7.0, rel=0.01)
    assert book.achieved_rate() == 2 / TIMELINE.measure_s


def test_outputs_after_the_window_do_not_count_as_throughput() -> None:
    book = _book()
    book.expect("e1", IN_WINDOW)
    book.observe("resolved", "e1", TIMELINE.window_end_ns + 1)
    assert book.achieved_rate() == 0.0
    assert book.stats("resolved").count == 1


def test_the_fraction_with_an_action_is_over_measured_events() -> None:
    book = _book()
    for index in range(4):
        book.expect(f"e{index}", IN_WINDOW + index)
    book.observe("action", "e0", IN_WINDOW + NS_PER_MS)
    assert book.stats("action").fraction == 0.25


def test_events_missing_at_close_are_censored_at_their_age_not_dropped() -> None:
    book = _book()
    book.expect("fast", IN_WINDOW)
    book.expect("lost", IN_WINDOW)
    book.observe("resolved", "fast", IN_WINDOW + NS_PER_MS)
    assert book.pending() == 1
    book.close(IN_WINDOW + 3 * NS_PER_S)
    stats = book.stats("resolved")
    assert stats.censored == 1
    assert stats.count == 1
    assert stats.max_ms == pytest.approx(3000.0, rel=0.01)
    # Later outputs change nothing.
    assert not book.observe("resolved", "lost", IN_WINDOW + 4 * NS_PER_S)


def test_a_stage_without_samples_reports_no_percentiles() -> None:
    book = _book()
    book.expect("e1", IN_WINDOW)
    stats = book.stats("action")
    assert stats.p99_ms is None
    assert stats.as_dict()["fraction"] == 0.0


def test_the_per_event_stage_must_be_one_of_the_stages() -> None:
    with pytest.raises(ValueError, match="not one of"):
        StepBook(("action",), "resolved", TIMELINE)


def test_the_run_book_routes_outputs_to_their_step_and_counts_strays_and_late_ones() -> None:
    run = RunBook()
    first, second = _book(), _book()
    run.add(first, [("a", IN_WINDOW)])
    run.add(second, [("b", IN_WINDOW)])
    run.observe("action", "b", IN_WINDOW + NS_PER_MS)
    run.observe("action", "nobody", IN_WINDOW)
    run.observe("action", None, IN_WINDOW)
    first.close(IN_WINDOW + NS_PER_S)
    run.observe("action", "a", IN_WINDOW + 2 * NS_PER_S)
    assert second.stats("action").count == 1
    assert first.stats("action").count == 0
    assert run.strays == 2
    assert run.late == 1
