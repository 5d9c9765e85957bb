"""The decision log: one sealed `decision-log/v1` record per decision, the
timeline index, and erasure by deleting the customer's key."""

from __future__ import annotations

import orjson
import pytest

from libs.common.batch import Output, StagedTable
from libs.contract.codec import from_json_bytes
from libs.contract.decision_log import DecisionLogRecord
from libs.pipeline.decision_log import LogKey, Unreadable, log_subject, open_sealed, seal
from services.decision.domain.decision_log import (
    IndexUpdate,
    index_after,
    indexed_ids,
    indexed_records,
    log_record,
)
from services.decision.domain.explain import CandidateOutcome, Exclusion, explanation
from services.decision.handler import LOG_KEYS, TIMELINE
from tests.unit.decision.support import CUSTOMER, T0, event
from tests.unit.decision.test_handler import (
    NAMES,
    NOW,
    Stage,
    erasure,
    grant,
    of,
    page_view,
    record,
)

RESOLVED_PARTITION = 0  # where ``of`` puts the resolved records


@pytest.fixture
def stage() -> Stage:
    return Stage()


def opened(stage: Stage, output: Output) -> DecisionLogRecord:
    """A logged record as a reader holding the customer's key gets it: keyed by the
    key's id, never the customer id, in the partition of the customer's records."""
    raw_key = stage.tables[LOG_KEYS].get(CUSTOMER)
    assert raw_key is not None
    key = LogKey.from_bytes(raw_key)
    assert (output.topic, output.key) == (NAMES.decision_log, log_subject(key))
    assert output.partition == RESOLVED_PARTITION
    plaintext = open_sealed(key, CUSTOMER, output.value or b"")
    return from_json_bytes(DecisionLogRecord, plaintext)


def test_a_record_goes_to_the_partition_of_the_customers_resolved_records(
    stage: Stage,
) -> None:
    # The auditor's reader finds a customer's records in the partition their id
    # maps to: the resolved record's, as both topics have as many partitions.
    stage.batch([of(page_view(event_id="evt-view"))._replace(partition=3)])
    [output] = stage.logged
    assert output.partition == 3


def test_a_records_candidates_read_as_the_explanation_shows_them_every_time() -> None:
    # Candidates are encoded once and reused: the second decision quoting the same
    # candidates, and one quoting one of them with another score, read as they should.
    no_consent = Exclusion("no_consent", "no marketing consent for web: no offers there")
    first = (CandidateOutcome("offer.a", None, no_consent), CandidateOutcome("service.b", 42.5))
    second = (CandidateOutcome("offer.a", None, no_consent), CandidateOutcome("service.b", 7.25))
    for candidates in (first, first, second):
        explained = explanation(
            "dec-1", "v1", "action", "evt-1", "service.b", candidates, ("a note",)
        )
        body = orjson.loads(log_record(explained, event("page_view"), CUSTOMER, (), (), NOW, 12.0))
        assert body["candidates"] == explained.to_dict()["candidates"]
        assert body["notes"] == ["a note"]
        DecisionLogRecord.model_validate(body)
    assert body["candidates"][1] == {"action_id": "service.b", "score": 7.25, "excluded": None}


def test_a_decision_that_sends_nothing_is_logged_with_why(stage: Stage) -> None:
    assert stage.batch([of(page_view(event_id="evt-view"))]) == []
    [logged] = [opened(stage, out) for out in stage.logged]
    assert (logged.outcome, logged.winner) == ("no_action", None)
    assert (logged.trigger.event_id, logged.trigger.type) == ("evt-view", "page_view")
    [candidate] = logged.candidates
    assert candidate.action_id == "offer.a"
    assert candidate.excluded is not None
    assert candidate.excluded.code == "no_consent"
    assert "marketing" in candidate.excluded.detail
    assert logged.policy_version == stage.config.policy_version
    assert logged.timings.decide_us > 0


def test_an_action_is_logged_with_its_winner_and_score(stage: Stage) -> None:
    [action] = stage.batch([of(grant()), of(page_view(minutes=1))])
    sent = orjson.loads(action.value or b"")
    grant_logged, view_logged = (opened(stage, out) for out in stage.logged)
    assert grant_logged.outcome == "no_action"  # no catalogue action answers a consent update
    assert grant_logged.notes
    assert view_logged.decision_id == sent["decision_id"]
    assert view_logged.winner is not None
    assert (view_logged.winner.action_id, view_logged.winner.score) == ("offer.a", sent["score"])
    assert view_logged.winner.channel == "web"


def test_the_suppressions_a_decision_starts_are_in_its_record(stage: Stage) -> None:
    outputs = stage.batch([of(grant()), of(grant(minutes=1, granted=False))])
    [suppression] = [orjson.loads(o.value or b"") for o in outputs if o.topic == NAMES.suppressions]
    logged = opened(stage, stage.logged[-1])
    [started] = logged.suppressions
    assert started.suppression_id == suppression["suppression_id"]
    assert (started.state, started.reason) == ("active", "consent_withdrawn")


def test_a_redelivered_event_is_not_logged_again(stage: Stage) -> None:
    view = of(page_view())
    stage.batch([view])
    stage.batch([view])
    assert len(stage.logged) == 1


def test_no_attribute_of_the_event_reaches_the_log(stage: Stage) -> None:
    search = event("search", "web", T0, query="size 12 boots for my sister", results_count=0)
    stage.batch([of(search)])
    [output] = stage.logged
    value = output.value or b""
    assert b"sister" not in value
    assert CUSTOMER.encode() not in value
    plaintext = orjson.dumps(opened(stage, output).model_dump(mode="json"))
    assert b"sister" not in plaintext


def test_every_decision_of_a_customer_opens_with_one_key(stage: Stage) -> None:
    stage.batch([of(page_view(minutes=minute)) for minute in range(3)])
    assert len({out.value for out in stage.logged}) == 3
    assert len({opened(stage, out).decision_id for out in stage.logged}) == 3


def test_after_erasure_the_logged_records_no_longer_open(stage: Stage) -> None:
    stage.batch([of(page_view())])
    [before] = stage.logged
    old_key = LogKey.from_bytes(stage.tables[LOG_KEYS].get(CUSTOMER) or b"")
    stage.batch([record("erasure", erasure=erasure())])
    assert stage.tables[LOG_KEYS].get(CUSTOMER) is None
    assert stage.tables[TIMELINE].get(CUSTOMER) is None
    # The customer comes back: a new key, which opens nothing logged before.
    stage.batch([of(page_view(minutes=5))])
    new_key = LogKey.from_bytes(stage.tables[LOG_KEYS].get(CUSTOMER) or b"")
    assert new_key.key_id != old_key.key_id
    with pytest.raises(Unreadable):
        open_sealed(new_key, CUSTOMER, before.value or b"")


def test_a_key_the_table_holds_now_seals_even_after_one_was_used(stage: Stage) -> None:
    # The stage keeps each customer's key ready to seal with; a key the table
    # holds now (a partition recovered from another worker's changelog) wins.
    stage.batch([of(page_view())])
    replaced = LogKey.generate()
    stage.tables[LOG_KEYS].put(CUSTOMER, replaced.to_bytes())
    stage.batch([of(page_view(minutes=1))])
    latest = stage.logged[-1]
    assert latest.key == log_subject(replaced)
    assert opened(stage, latest).customer_id == CUSTOMER


def test_a_new_assignment_leaves_no_customers_key_or_context_in_memory(stage: Stage) -> None:
    # The partition may be another worker's now: an erasure handled there must not
    # leave this worker holding the customer's key (or their decoded context).
    stage.batch([of(page_view())])
    handler = stage.handler
    kept = (handler._log_sealers, handler._contexts, handler._histories)
    assert all(len(cache) == 1 for cache in kept)
    handler.forget_decoded()
    assert all(len(cache) == 0 and cache.stored_bytes == 0 for cache in kept)
    # Still ours: the next decision reads the key from the table again.
    stage.batch([of(page_view(minutes=1))])
    assert opened(stage, stage.logged[-1]).customer_id == CUSTOMER


def test_a_record_opens_only_for_its_own_customer() -> None:
    key = LogKey.generate()
    sealed = seal(key, "c1", b"{}")
    assert open_sealed(key, "c1", sealed) == b"{}"
    with pytest.raises(Unreadable):
        open_sealed(key, "c2", sealed)
    with pytest.raises(Unreadable):
        open_sealed(key, "c1", sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(Unreadable):
        open_sealed(key, "c1", b"not sealed")


def test_the_timeline_keeps_the_latest_decisions(stage: Stage) -> None:
    stage.handler._timeline_decisions = 2
    stage.batch([of(page_view(minutes=minute, event_id=f"v{minute}")) for minute in range(3)])
    kept = indexed_records(stage.tables[TIMELINE].get, CUSTOMER)
    assert [orjson.loads(item)["trigger"]["event_id"] for item in kept] == ["v1", "v2"]


def test_the_index_takes_a_decision_once_and_names_what_it_drops() -> None:
    first = index_after(None, "dec-1", keep=2)
    assert first == IndexUpdate(b"dec-1", True, [])
    assert index_after(first.value, "dec-1", keep=2) == IndexUpdate(b"dec-1", False, [])
    second = index_after(first.value, "dec-2", keep=2)
    third = index_after(second.value, "dec-3", keep=2)
    assert third == IndexUpdate(b"dec-2\ndec-3", True, ["dec-1"])
    assert indexed_ids(third.value) == ["dec-2", "dec-3"]


def test_an_index_over_a_lowered_limit_drops_its_oldest_down_to_it() -> None:
    # An operator lowered CONCIERGE_DECISION_TIMELINE_DECISIONS: the next decision
    # evicts every id past the new limit, oldest first, and keeps the rest in order.
    index = b"dec-1\ndec-2\ndec-3\ndec-4"
    update = index_after(index, "dec-5", keep=2)
    assert update == IndexUpdate(b"dec-4\ndec-5", True, ["dec-1", "dec-2", "dec-3"])
    # A decision already indexed, even an old one, is never added twice.
    assert index_after(index, "dec-2", keep=2) == IndexUpdate(index, False, [])


def test_dropped_and_erased_records_leave_the_table(stage: Stage) -> None:
    stage.handler._timeline_decisions = 2
    stage.batch([of(page_view(minutes=minute, event_id=f"v{minute}")) for minute in range(3)])
    # The index and the two records it keeps: the first decision's record went.
    assert len(stage.tables[TIMELINE].data) == 3
    stage.batch([record("erasure", erasure=erasure())])
    assert not stage.tables[TIMELINE].data


def test_the_index_is_written_after_the_records_it_names(stage: Stage) -> None:
    stage.handler._timeline_decisions = 1
    stage.batch([of(page_view(minutes=0, event_id="v0"))])
    staged = StagedTable(stage.tables[TIMELINE])
    stage.handler.handle(
        of(page_view(minutes=1, event_id="v1")), {**stage.tables, TIMELINE: staged}, NOW
    )
    # The new record, the dropped one's delete, then the index.
    assert list(staged.writes)[-1] == CUSTOMER
    assert [value is None for value in staged.writes.values()] == [False, True, False]
