"""A partition with records waiting that nobody consumes is noticed; a busy or idle one is not."""

from __future__ import annotations

from libs.common.stall import Sample, StallDetector


def test_records_waiting_and_no_commit_for_long_enough_is_a_stall() -> None:
    detector: StallDetector[str] = StallDetector(stall_after=60)
    assert detector.observe(0, {"p3": Sample(waiting=338, committed=330)}) == []
    assert detector.observe(59, {"p3": Sample(waiting=338, committed=330)}) == []
    assert detector.observe(60, {"p3": Sample(waiting=340, committed=330)}) == ["p3"]


def test_a_partition_that_moves_or_has_nothing_waiting_never_stalls() -> None:
    detector: StallDetector[str] = StallDetector(stall_after=60)
    for second in range(0, 600, 5):
        moving = Sample(waiting=900, committed=second)  # a long backlog, committed as it goes
        idle = Sample(waiting=0, committed=12)  # caught up, nothing new
        assert detector.observe(second, {"busy": moving, "idle": idle}) == []


def test_a_partition_never_consumed_since_assignment_stalls_too() -> None:
    detector: StallDetector[str] = StallDetector(stall_after=30)
    detector.observe(0, {"p0": Sample(waiting=5, committed=None)})
    assert detector.observe(30, {"p0": Sample(waiting=9, committed=None)}) == ["p0"]


def test_the_clock_restarts_after_a_reset_or_when_a_partition_comes_back() -> None:
    detector: StallDetector[str] = StallDetector(stall_after=60)
    detector.observe(0, {"p1": Sample(waiting=4, committed=7)})
    detector.reset()  # e.g. a rebalance: recovery takes its time
    assert detector.observe(61, {"p1": Sample(waiting=4, committed=7)}) == []
    detector.observe(62, {})  # moved to another worker
    assert detector.observe(100, {"p1": Sample(waiting=4, committed=7)}) == []
    assert detector.observe(160, {"p1": Sample(waiting=4, committed=7)}) == ["p1"]
