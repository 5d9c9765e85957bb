"""The rounds a flush produces its changelog records in (libs/common/batch.py)."""

from __future__ import annotations

import pytest

from libs.common.batch import changelog_rounds, check_changelog_order


def test_rounds_follow_the_order_and_skip_tables_with_nothing_written() -> None:
    written = [("contexts", 0), ("history", 0), ("contexts", 1)]
    order = [{"in-force"}, {"history"}, {"contexts"}]
    assert changelog_rounds(written, order) == [
        [("history", 0)],
        [("contexts", 0), ("contexts", 1)],
    ]


def test_tables_in_one_group_go_in_one_round() -> None:
    written = [("seen", 0), ("links", 0), ("identifiers", 0)]
    order = [{"links", "identifiers"}, {"seen"}]
    assert changelog_rounds(written, order) == [[("links", 0), ("identifiers", 0)], [("seen", 0)]]


@pytest.mark.parametrize(
    "order",
    [[{"a"}], [{"a"}, {"a", "b"}], [{"a"}, {"b"}, {"c"}]],
    ids=["a-table-left-out", "a-table-twice", "a-table-unknown"],
)
def test_an_order_must_name_every_table_once(order: list[set[str]]) -> None:
    with pytest.raises(ValueError, match="exactly once"):
        check_changelog_order(["a", "b"], order)
