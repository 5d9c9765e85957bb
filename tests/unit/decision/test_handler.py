"""Stage 2's handler over dict tables: context, decision, merges, erasure, read-back."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from libs.common.batch import DictTable, InputRecord, Output, run_staged
from libs.common.topics import TopicNames
from libs.context import CustomerContext, event_fingerprint
from libs.contract.erasure import ErasureRequest
from libs.contract.interaction import InteractionEvent
from libs.pipeline.envelopes import ResolvedRecord, decode_resolved
from services.decision.domain.catalogue import DecisionConfig
from services.decision.domain.history import ContactHistory
from services.decision.domain.rules.idempotence import decision_id_for
from services.decision.handler import CONTEXTS, HISTORIES, IN_FORCE, TABLES, DecisionHandler
from tests.unit.decision.support import CUSTOMER, T0, action, catalogue_of, event

NAMES = TopicNames()
NOW = T0 + timedelta(minutes=10)
PROVISIONAL = "prov:0123456789abcdef01234567"
_offsets = itertools.count()


def grant(minutes: int = 0, granted: bool = True) -> InteractionEvent:
    return event(
        "consent_updated",
        "web",
        T0 + timedelta(minutes=minutes),
        attrs={"purpose": "marketing", "granted": granted, "channel": "web"},
    )


def page_view(minutes: int = 1, event_id: str | None = None) -> InteractionEvent:
    return event("page_view", "web", T0 + timedelta(minutes=minutes), event_id=event_id)


def record(kind: str = "event", customer_id: str = CUSTOMER, **fields: Any) -> InputRecord:
    value = ResolvedRecord(kind=kind, customer_id=customer_id, **fields).to_bytes()
    return InputRecord(
        NAMES.resolved, 0, next(_offsets), NOW.timestamp(), customer_id.encode(), value
    )


def of(item: InteractionEvent, customer_id: str = CUSTOMER, **fields: Any) -> InputRecord:
    return record("event", customer_id, event=item, **fields)


class Stage:
    """The handler with its two tables, fed as the adapter feeds it."""

    def __init__(self) -> None:
        catalogue, policies = catalogue_of(action("offer.a"))
        self.config = DecisionConfig(catalogue, policies)
        self.registry = CollectorRegistry()
        self.handler = DecisionHandler(
            self.config, NAMES, anonymous_ttl=timedelta(days=30), registry=self.registry
        )
        self.tables = {name: DictTable() for name in TABLES}
        self.logged: list[Output] = []

    def batch(self, records: Iterable[InputRecord]) -> list[Output]:
        """One fetched batch: each record's writes staged, kept once it returns.
        The outputs to the decision log go to ``logged``, the others are returned."""
        outputs: list[Output] = []
        for item in records:
            outputs.extend(run_staged(partial(self.handler.handle, item, now=NOW), self.tables))
        self.logged.extend(out for out in outputs if out.topic == NAMES.decision_log)
        return [out for out in outputs if out.topic != NAMES.decision_log]

    def context(self, customer_id: str = CUSTOMER) -> CustomerContext | None:
        raw = self.tables[CONTEXTS].get(customer_id)
        return None if raw is None else CustomerContext.from_bytes(raw)

    def history(self, customer_id: str = CUSTOMER) -> ContactHistory | None:
        raw = self.tables[HISTORIES].get(customer_id)
        return None if raw is None else ContactHistory.from_json(raw)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def bodies(outputs: Sequence[Output], topic: str) -> list[dict[str, Any]]:
    return [orjson.loads(out.value or b"") for out in outputs if out.topic == topic]


@pytest.fixture
def stage() -> Stage:
    return Stage()


def test_an_event_updates_the_context_and_emits_the_action(stage: Stage) -> None:
    view = page_view(event_id="evt-view")
    outputs = stage.batch([of(grant()), of(view)])
    [out] = outputs
    assert (out.topic, out.key) == (NAMES.actions("web"), CUSTOMER.encode())
    body = orjson.loads(out.value or b"")
    assert body["action"]["id"] == "offer.a"
    assert body["decision_id"] == decision_id_for("evt-view", stage.config.policy_version)
    context = stage.context()
    assert context is not None
    assert event_fingerprint("evt-view") in context.processed_event_ids
    history = stage.history()
    assert history is not None
    assert history.has_decided("evt-view")
    assert stage.metric("concierge_decision_actions_total", channel="web", kind="offer") == 1
    assert stage.metric("concierge_context_records_total", kind="event") == 2


def test_a_redelivered_event_is_not_decided_twice(stage: Stage) -> None:
    view = of(page_view())
    first = stage.batch([of(grant()), view])
    assert len(first) == 1
    context, history = stage.tables[CONTEXTS].get(CUSTOMER), stage.tables[HISTORIES].get(CUSTOMER)
    assert stage.batch([view]) == []
    assert stage.tables[CONTEXTS].get(CUSTOMER) == context
    assert stage.tables[HISTORIES].get(CUSTOMER) == history
    assert stage.metric("concierge_decision_decisions_total", outcome="duplicate") == 1


def test_an_output_read_back_is_not_sent_again_but_the_decision_is_recorded(
    stage: Stage,
) -> None:
    decision_id = decision_id_for("evt-view", stage.config.policy_version)
    stage.handler.sent_before[0] = {f"action {decision_id}"}
    outputs = stage.batch([of(grant()), of(page_view(event_id="evt-view"))])
    assert outputs == []
    history = stage.history()
    assert history is not None
    assert history.has_decided("evt-view")
    assert [sent.decision_id for sent in history.sent] == [decision_id]
    assert stage.handler.sent_before[0] == set()  # each emission is skipped once
    assert stage.metric("concierge_decision_outputs_not_resent_total", kind="action") == 1


def test_a_read_back_of_another_partition_does_not_skip(stage: Stage) -> None:
    decision_id = decision_id_for("evt-view", stage.config.policy_version)
    stage.handler.sent_before[1] = {f"action {decision_id}"}
    outputs = stage.batch([of(grant()), of(page_view(event_id="evt-view"))])
    assert len(outputs) == 1


def test_merge_out_carries_the_context_then_forgets_the_provisional_customer(
    stage: Stage,
) -> None:
    stage.batch([of(page_view(event_id="evt-anon"), PROVISIONAL, provisional=True)])
    assert stage.context(PROVISIONAL) is not None
    assert stage.history(PROVISIONAL) is not None
    [carry] = stage.batch([record("merge_out", PROVISIONAL, merge_target=CUSTOMER)])
    assert (carry.topic, carry.key) == (NAMES.resolved, CUSTOMER.encode())
    merge_in = decode_resolved(carry.value or b"")
    assert (merge_in.kind, merge_in.customer_id) == ("merge_in", CUSTOMER)
    assert stage.tables[CONTEXTS].get(PROVISIONAL) is None
    assert stage.tables[HISTORIES].get(PROVISIONAL) is None
    # Redelivered after the delete: nothing left to carry.
    assert stage.batch([record("merge_out", PROVISIONAL, merge_target=CUSTOMER)]) == []

    # The target already has a context of its own: the two are merged.
    stage.batch([of(page_view(event_id="evt-known"))])
    assert stage.batch([InputRecord(NAMES.resolved, 0, 99, 0.0, carry.key, carry.value)]) == []
    merged = stage.context()
    assert merged is not None
    assert not merged.provisional
    assert {event_fingerprint("evt-anon"), event_fingerprint("evt-known")} <= set(
        merged.processed_event_ids
    )


def test_merge_in_adopts_a_context_for_a_customer_without_one(stage: Stage) -> None:
    stage.batch([of(page_view(event_id="evt-anon"), PROVISIONAL, provisional=True)])
    [carry] = stage.batch([record("merge_out", PROVISIONAL, merge_target=CUSTOMER)])
    stage.batch([InputRecord(NAMES.resolved, 0, 99, 0.0, carry.key, carry.value)])
    adopted = stage.context()
    assert adopted is not None
    assert (adopted.customer_id, adopted.provisional) == (CUSTOMER, False)
    assert event_fingerprint("evt-anon") in adopted.processed_event_ids


def erasure(request_id: str = "r1") -> ErasureRequest:
    return ErasureRequest.model_validate(
        {
            "schema": "erasure/v1",
            "request_id": request_id,
            "customer_id": CUSTOMER,
            "requested_at": T0.isoformat(),
        }
    )


def test_erasure_drops_the_state_and_suppresses_everything(stage: Stage) -> None:
    stage.batch([of(grant()), of(page_view())])
    [out] = stage.batch([record("erasure", erasure=erasure())])
    assert (out.topic, out.key) == (NAMES.suppressions, CUSTOMER.encode())
    body = orjson.loads(out.value or b"")
    assert (body["reason"], body["state"]) == ("erasure", "active")
    assert stage.tables[CONTEXTS].get(CUSTOMER) is None
    assert stage.tables[HISTORIES].get(CUSTOMER) is None


def test_an_erasure_suppression_read_back_is_not_sent_again(stage: Stage) -> None:
    [first] = stage.batch([record("erasure", erasure=erasure())])
    body = orjson.loads(first.value or b"")
    emission = f"suppression {body['suppression_id']} active r1"
    stage.handler.sent_before[0] = {emission}
    assert stage.batch([record("erasure", erasure=erasure())]) == []


def test_a_complaint_earlier_in_the_batch_stops_the_offer(stage: Stage) -> None:
    complaint = event("complaint_opened", "phone", T0 + timedelta(minutes=1), case_id="9")
    outputs = stage.batch([of(grant()), of(complaint), of(page_view(minutes=2))])
    assert bodies(outputs, NAMES.actions("web")) == []
    [suppression] = bodies(outputs, NAMES.suppressions)
    assert (suppression["reason"], suppression["state"]) == ("open_complaint", "active")


def test_the_same_events_in_the_other_order_send_the_offer(stage: Stage) -> None:
    complaint = event("complaint_opened", "phone", T0 + timedelta(minutes=2), case_id="9")
    outputs = stage.batch([of(grant()), of(page_view(minutes=1)), of(complaint)])
    assert len(bodies(outputs, NAMES.actions("web"))) == 1


def test_a_consent_withdrawal_emits_a_suppression(stage: Stage) -> None:
    outputs = stage.batch([of(grant()), of(grant(minutes=1, granted=False))])
    [out] = bodies(outputs, NAMES.suppressions)
    assert (out["reason"], out["state"]) == ("consent_withdrawn", "active")
    [in_force] = bodies(outputs, NAMES.suppressions_active)
    assert [s["suppression_id"] for s in in_force["suppressions"]] == [out["suppression_id"]]
    assert stage.batch([of(page_view(minutes=2))]) == []


def in_force_ids(stage: Stage) -> list[str]:
    raw = stage.tables[IN_FORCE].get(CUSTOMER)
    return [s["suppression_id"] for s in orjson.loads(raw)["suppressions"]] if raw else []


def test_two_suppressions_in_force_at_once_are_both_on_suppressions_active(stage: Stage) -> None:
    withdrawal = stage.batch([of(grant()), of(grant(minutes=1, granted=False))])
    complaint = event("complaint_opened", "phone", T0 + timedelta(minutes=2), case_id="9")
    opened = stage.batch([of(complaint)])
    [consent] = bodies(withdrawal, NAMES.suppressions)
    [open_complaint] = bodies(opened, NAMES.suppressions)
    # The latest value for the customer carries both: compaction keeps only it.
    [latest] = bodies(opened, NAMES.suppressions_active)
    assert {s["reason"] for s in latest["suppressions"]} == {
        "consent_withdrawn",
        "open_complaint",
    }
    assert in_force_ids(stage) == [consent["suppression_id"], open_complaint["suppression_id"]]
    resolved = event("complaint_resolved", "phone", T0 + timedelta(minutes=3), case_id="9")
    lifted = stage.batch([of(resolved)])
    [after] = bodies(lifted, NAMES.suppressions_active)
    assert [s["reason"] for s in after["suppressions"]] == ["consent_withdrawn"]


def test_erasure_tombstones_the_suppressions_in_force(stage: Stage) -> None:
    stage.batch([of(grant()), of(grant(minutes=1, granted=False))])
    outputs = stage.batch([record("erasure", erasure=erasure())])
    tombstones = [o for o in outputs if o.topic == NAMES.suppressions_active]
    assert tombstones == [Output(NAMES.suppressions_active, CUSTOMER.encode(), None)]
    assert stage.tables[IN_FORCE].get(CUSTOMER) is None


def test_expire_drops_a_quiet_provisional_customer_only(stage: Stage) -> None:
    stage.batch([of(page_view(), PROVISIONAL, provisional=True)])
    stage.batch([record("expire", PROVISIONAL)])  # NOW is minutes after its event
    assert stage.context(PROVISIONAL) is not None
    later = Stage()
    later.tables = stage.tables
    later.handler.handle(record("expire", PROVISIONAL), later.tables, NOW + timedelta(days=31))
    assert stage.tables[CONTEXTS].get(PROVISIONAL) is None
    assert stage.tables[HISTORIES].get(PROVISIONAL) is None


def test_an_event_record_without_its_event_is_a_bug(stage: Stage) -> None:
    with pytest.raises(ValueError, match="without its payload"):
        stage.batch([record("event")])
