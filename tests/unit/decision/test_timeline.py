"""A customer's timeline from their context and timeline index, and what is in force now."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from libs.contract.codec import from_json_bytes
from libs.contract.queries import Timeline
from services.decision.domain.decision_log import indexed_records
from services.decision.domain.in_force import decode_in_force
from services.decision.domain.timeline import (
    decisions_of,
    find_decision,
    in_force_now,
    on_channel,
    page,
    timeline,
)
from services.decision.handler import IN_FORCE, TIMELINE
from tests.unit.decision.support import CUSTOMER
from tests.unit.decision.test_handler import NOW, Stage, grant, of, page_view


@pytest.fixture
def stage() -> Stage:
    stage = Stage()
    stage.batch([of(grant(minutes=0)), of(page_view(minutes=1, event_id="view"))])
    stage.batch([of(grant(minutes=2, granted=False))])
    return stage


def decisions(stage: Stage) -> list[dict[str, Any]]:
    return decisions_of(indexed_records(stage.tables[TIMELINE].get, CUSTOMER))


def test_events_decisions_and_suppressions_newest_first(stage: Stage) -> None:
    entries = timeline(stage.context(), decisions(stage))
    kinds = [entry["kind"] for entry in entries]
    assert kinds.count("event") == 3
    assert kinds.count("decision") == 3
    assert kinds.count("suppression") == 1
    # Every decision was made at NOW, after each event: the decisions come first,
    # newest first, the withdrawal's suppression right after it.
    assert kinds[:4] == ["decision", "suppression", "decision", "decision"]
    assert [e["event"]["event_id"] for e in entries if e["kind"] == "event"][1] == "view"
    assert [entry["at"] for entry in entries] == sorted(
        (entry["at"] for entry in entries), reverse=True
    )
    [suppression] = [e for e in entries if e["kind"] == "suppression"]
    assert suppression["suppression"]["reason"] == "consent_withdrawn"
    assert find_decision(decisions(stage), suppression["decision_id"]) is not None


def test_a_page_and_the_next(stage: Stage) -> None:
    entries = timeline(stage.context(), decisions(stage))
    first = page(entries, 0, 4)
    assert (len(first.entries), first.total, first.next_offset) == (4, 7, 4)
    second = page(entries, 4, 4)
    assert (len(second.entries), second.next_offset) == (3, None)
    body = {
        "customer_id": CUSTOMER,
        "entries": first.entries + second.entries,
        "total": first.total,
        "next_offset": None,
    }
    parsed = from_json_bytes(Timeline, orjson.dumps(body))  # the documented shape
    assert [entry.kind for entry in parsed.entries] == [entry["kind"] for entry in entries]


def test_a_decision_is_found_by_its_id_and_an_unknown_one_is_not(stage: Stage) -> None:
    kept = decisions(stage)
    view = next(record for record in kept if record["trigger"]["event_id"] == "view")
    assert find_decision(kept, view["decision_id"]) == view
    assert find_decision(kept, "dec-unknown") is None


def test_a_decision_indexed_twice_is_shown_once(stage: Stage) -> None:
    raw = indexed_records(stage.tables[TIMELINE].get, CUSTOMER)
    assert len(decisions_of([*raw, raw[0]])) == len(raw)


def test_in_force_now_drops_what_has_run_out(stage: Stage) -> None:
    stored = decode_in_force(stage.tables[IN_FORCE].get(CUSTOMER))
    assert [s.reason for s in in_force_now(stored, NOW)] == ["consent_withdrawn"]
    ending = stored[0].model_copy(update={"until": NOW + timedelta(hours=1)})
    assert in_force_now([ending], NOW) == [ending]
    assert in_force_now([ending], NOW + timedelta(hours=1)) == []


def test_no_context_and_no_decisions_is_an_empty_timeline() -> None:
    assert timeline(None, []) == []
    assert page([], 0, 10).next_offset is None


def test_a_channel_sees_the_decisions_it_acted_on_or_was_triggered_on() -> None:
    web_action: dict[str, Any] = {"winner": {"channel": "web"}, "trigger": {"channel": "mobile"}}
    phone_nothing: dict[str, Any] = {"winner": None, "trigger": {"channel": "phone"}}
    decisions = [web_action, phone_nothing]
    assert on_channel(decisions, "web") == [web_action]
    assert on_channel(decisions, "mobile") == []
    assert on_channel(decisions, "phone") == [phone_nothing]
    assert on_channel(decisions, None) == decisions
