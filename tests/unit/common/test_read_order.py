"""Records of a partition are handled in offset order; a gap is never skipped over."""

from __future__ import annotations

from libs.common.read_order import ReadOrder, ReadPositions, Verdict


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


def test_when_read_again_starts_past_the_gap_the_offsets_between_hold_no_records() -> None:
    # Transaction markers at 350 and 351: reading again from 350 starts at 352.
    order: ReadOrder[str] = ReadOrder()
    seen = verdicts(order, [348, 349, 352, 353, 352, 353])
    assert seen == ["handle", "handle", "gap", "skip", "handle", "handle"]


def test_a_record_read_again_past_the_expected_one_but_before_the_gap_is_handled() -> None:
    order: ReadOrder[str] = ReadOrder()
    assert verdicts(order, [348, 355, 356, 351, 352]) == [
        "handle",
        "gap",
        "skip",
        "handle",
        "handle",
    ]


def test_a_second_gap_after_reading_again_is_reported_again() -> None:
    order: ReadOrder[str] = ReadOrder()
    seen = verdicts(order, [348, 352, 349, 351])
    assert seen == ["handle", "gap", "handle", "gap"]
    assert order.check("p3", 351, generation=4, committed=348).expected == 350


def test_a_new_assignment_forgets_a_rewind_under_way() -> None:
    order: ReadOrder[str] = ReadOrder()
    verdicts(order, [348, 352])
    assert order.check("p3", 400, generation=5, committed=400).verdict is Verdict.HANDLE


def _fetch_loop(positions: ReadPositions[str], offsets: list[int]) -> list[int]:
    """Faust's fetch loop: pass a record on if it is at or past the read offset,
    then record it as read."""
    passed = []
    for offset in offsets:
        last = positions["p3"]
        if last is None or offset >= last:
            passed.append(offset)
            positions["p3"] = offset
    return passed


def test_records_left_over_from_before_a_rewind_do_not_hide_the_records_read_again() -> None:
    positions: ReadPositions[str] = ReadPositions()
    assert _fetch_loop(positions, [0, 56, 57, 58]) == [0, 56, 57, 58]
    positions.rewind("p3", 1, read_before=56)
    # 59 and 60 were fetched before the seek; then 1, 2, ... arrive again.
    assert _fetch_loop(positions, [59, 60, 1, 2, 3]) == [59, 60, 1, 2, 3]
    assert positions["p3"] == 3
    assert not positions.rewinding("p3", 61)


def test_without_a_rewind_the_read_offset_follows_every_record() -> None:
    positions: ReadPositions[str] = ReadPositions()
    assert _fetch_loop(positions, [5, 6, 3, 7]) == [5, 6, 7]


def test_a_seek_of_faust_own_ends_a_rewind() -> None:
    positions: ReadPositions[str] = ReadPositions()
    positions.rewind("p3", 1, read_before=56)
    positions.update({"p3": 200})
    assert not positions.rewinding("p3", 300)
    positions["p3"] = 300
    assert positions["p3"] == 300
    positions.pop("p3")
    assert positions["p3"] is None
