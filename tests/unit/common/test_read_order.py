"""Records of a partition are handled in offset order; a gap is never skipped over."""

from __future__ import annotations

from libs.common.read_order import ReadOrder, Verdict


def verdicts(order: ReadOrder[str], offsets: list[int], committed: int | None = 348) -> list[str]:
    seen = []
    for offset in offsets:
        decision = order.check("p3", offset, generation=4, committed=committed)
        seen.append(decision.verdict.value)
        if decision.verdict is Verdict.HANDLE:
            order.handled("p3", offset, generation=4)
    return seen


def test_consecutive_records_from_the_committed_offset_are_handled() -> None:
    assert verdicts(ReadOrder(), [348, 349, 350]) == ["handle"] * 3


def test_a_record_past_a_gap_is_reported_with_the_first_missing_offset() -> None:
    # As seen: 353 and 354 never reached the handler.
    order: ReadOrder[str] = ReadOrder()
    assert verdicts(order, [348, 349, 350, 351, 352, 355]) == ["handle"] * 5 + ["gap"]
    decision = order.check("p3", 355, generation=4, committed=348)
    assert decision.expected == 353


def test_after_a_gap_leftovers_are_skipped_until_the_missing_record_comes() -> None:
    order: ReadOrder[str] = ReadOrder()
    seen = verdicts(order, [348, 349, 352, 353, 350, 351, 352])
    assert seen == ["handle", "handle", "gap", "skip", "handle", "handle", "handle"]


def test_a_first_record_past_the_committed_offset_is_a_gap_too() -> None:
    # As seen: a worker taking a partition over started at 84, committed was 81.
    assert verdicts(ReadOrder(), [84], committed=81) == ["gap"]


def test_records_already_handled_or_committed_by_another_owner_are_skipped() -> None:
    assert verdicts(ReadOrder(), [340, 348, 349, 348]) == ["skip", "handle", "handle", "skip"]


def test_a_new_assignment_starts_from_the_committed_offset_again() -> None:
    order: ReadOrder[str] = ReadOrder()
    verdicts(order, [348, 349])
    # Another generation: the partition was away; its owner committed up to 600.
    assert order.check("p3", 600, generation=5, committed=600).verdict is Verdict.HANDLE


def test_a_group_that_never_committed_takes_what_comes_first() -> None:
    assert verdicts(ReadOrder(), [0, 1, 2], committed=None) == ["handle"] * 3
