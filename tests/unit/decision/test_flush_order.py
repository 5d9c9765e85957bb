"""What a crash between two changelog rounds of a flush leaves, replayed.

The adapter delivers a batch's outputs, then its tables' changelog records in
the rounds of ``CHANGELOG_ORDER``, each round before the next; only then is
the batch committed. A worker that dies between two rounds is replaced by one
that recovers the earlier rounds' tables *after* the batch and the later ones
*before* it, reads back the outputs (all delivered) and gets the batch again.
It must end where an uninterrupted worker ended, sending nothing new.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from functools import cache

import pytest

from libs.common.batch import DictTable, InputRecord, Output, changelog_rounds
from services.decision.domain.emissions import emissions_in
from services.decision.handler import (
    CHANGELOG_ORDER,
    CONTEXTS,
    HISTORIES,
    IN_FORCE,
    LOG_KEYS,
    TIMELINE,
)
from tests.unit.decision.support import T0, event
from tests.unit.decision.test_handler import NAMES, Stage, grant, of, page_view


@cache
def earlier_batch() -> list[InputRecord]:
    """Committed before the batch that crashes."""
    return [of(page_view(minutes=0))]


@cache  # the same records each time: a redelivery
def the_batch() -> list[InputRecord]:
    """A customer's group of events whose later ones decide differently from the
    earlier: the offer is due only after the grant, and the complaint starts a
    suppression that is still in force at the end."""
    complaint = event("complaint_opened", "phone", T0 + timedelta(minutes=4), case_id="9")
    return [of(page_view(minutes=1)), of(grant(minutes=2)), of(page_view(minutes=3)), of(complaint)]


def snapshot(stage: Stage) -> dict[str, dict[str, bytes]]:
    return {name: table.snapshot() for name, table in stage.tables.items()}


def crashed_between_rounds(
    before: Mapping[str, dict[str, bytes]],
    after: Mapping[str, dict[str, bytes]],
    landed: Collection[str],
) -> Stage:
    """A new worker whose tables recovered ``landed`` as after the batch and the
    rest as before it, having read back every output of the batch."""
    stage = Stage()
    for name in stage.tables:
        stage.tables[name] = DictTable(dict((after if name in landed else before)[name]))
    return stage


Tables = dict[str, dict[str, bytes]]


def replay(
    order: Sequence[Collection[str]],
) -> tuple[Tables, list[tuple[list[str], list[Output], Tables]]]:
    """The tables of an uninterrupted run, and for each crash between two rounds
    of ``order``: the tables that had landed, what the replaying worker sent and
    its tables. (The uninterrupted run is the crashed worker's own: its decision
    log keys are random and its records say how long each decision took.)"""
    first = Stage()
    first.batch(earlier_batch())
    before = snapshot(first)
    sent = first.batch(the_batch())
    after = snapshot(first)
    delivered = emissions_in(output.value for output in sent)
    rounds = changelog_rounds([(name, 0) for name in first.tables], order)
    results = []
    for crash_after in range(1, len(rounds)):
        landed = [name for slots in rounds[:crash_after] for name, _ in slots]
        stage = crashed_between_rounds(before, after, landed)
        stage.handler.sent_before[0] = set(delivered)
        # Not the decision log (``Stage.logged``): it is at least once, a decision
        # made again is logged again with the same id, which its readers dedupe on.
        again = stage.batch(the_batch())
        results.append((landed, again, snapshot(stage)))
    return after, results


def test_the_batch_decides_differently_event_by_event() -> None:
    # Else the test below could not tell a stale context from a current one.
    stage = Stage()
    stage.batch(earlier_batch())
    sent = stage.batch(the_batch())
    assert {output.topic for output in sent} >= {
        NAMES.actions("web"),
        NAMES.suppressions,
        NAMES.suppressions_active,
    }


def test_a_crash_between_any_two_rounds_sends_nothing_new_and_ends_where_it_would_have() -> None:
    expected, results = replay(CHANGELOG_ORDER)
    first = sorted([IN_FORCE, LOG_KEYS, TIMELINE])
    assert [sorted(landed) for landed, _, _ in results] == [first, sorted([*first, HISTORIES])]
    for landed, again, tables in results:
        assert again == [], f"sent again after {landed} landed"
        assert tables == expected, f"tables differ after {landed} landed"


@pytest.mark.parametrize(
    "order",
    [
        pytest.param([{CONTEXTS, IN_FORCE}, {HISTORIES}], id="contexts-before-the-history"),
        pytest.param([{HISTORIES}, {IN_FORCE}, {CONTEXTS}], id="in-force-after-the-history"),
    ],
)
def test_an_order_that_lands_the_history_at_the_wrong_place_fails(
    order: list[set[str]],
) -> None:
    """Why this order: contexts ahead of the history decide the redelivered events
    over a later context (new decisions, new ids); suppressions in force behind
    it are never put right (the events it names change nothing)."""
    expected, results = replay(order)
    broken = [landed for landed, again, tables in results if again or tables != expected]
    assert broken
