"""The rounds a flush produces its changelog records in (libs/common/batch.py)."""

from __future__ import annotations

import pytest

from libs.common.batch import DictTable, StagedTable, changelog_rounds, check_changelog_order


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


def test_a_key_written_again_moves_behind_the_keys_written_since() -> None:
    # A crash may land only a prefix of a table's changelog: what a handler wrote
    # last (an index naming records) must be produced after what it names.
    staged = StagedTable(DictTable())
    staged.put("index", b"v1")
    staged.put("record-2", b"...")
    staged.delete("record-1")
    staged.put("index", b"v2")
    assert list(staged.writes) == ["record-2", "record-1", "index"]
    assert staged.writes["index"] == b"v2"
