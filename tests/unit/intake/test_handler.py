"""Stage 1's handler over dict tables: dead letters, dedupe, resolution, merges, erasure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from libs.common.batch import DictTable, InputRecord, Output, TableView
from libs.common.topics import TopicNames
from libs.contract.dlq import ErrorCode
from libs.contract.examples import example_interaction
from libs.pipeline.envelopes import ResolvedRecord, decode_resolved
from services.intake.handler import (
    IDENTIFIER_SETS,
    LINKS,
    SEEN_EVENTS,
    TABLES,
    IntakeHandler,
    IntakeMetrics,
)
from services.intake.identity import IdentifierSet, provisional_customer_id
from services.intake.routing import IntakeLimits
from tests.unit.intake.support import KEY, NOW

NAMES = TopicNames("")
WEB = NAMES.interactions("web")
PHONE = NAMES.interactions("phone")
TTL = timedelta(days=30)


class Stage:
    """The handler, its dict tables and a running offset per topic, as the adapter drives it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.handler = IntakeHandler(
            NAMES, IntakeLimits(pii_key=KEY), TTL, IntakeMetrics.create(self.registry)
        )
        self.tables: dict[str, DictTable] = {name: DictTable() for name in TABLES}
        self._offsets: dict[str, int] = {}

    @property
    def views(self) -> Mapping[str, TableView]:
        return self.tables

    def record(self, topic: str, value: bytes | None, key: bytes | None = None) -> InputRecord:
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        return InputRecord(topic, 0, offset, NOW.timestamp(), key, value)

    def handle(self, record: InputRecord) -> Sequence[Output]:
        return self.handler.handle(record, self.views, NOW)

    def send(
        self, payload: dict[str, Any] | bytes | None, topic: str = WEB, key: bytes | None = None
    ) -> Sequence[Output]:
        value = orjson.dumps(payload) if isinstance(payload, dict) else payload
        return self.handle(self.record(topic, value, key))

    def count(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def interaction(
    event_type: str = "page_view", *, event_id: str = "evt-1", **identity: str
) -> dict[str, Any]:
    record = example_interaction(event_type, event_id=event_id, occurred_at="2025-05-01T12:00:00Z")
    if identity:
        record["identity"] = identity
    return record


def resolved(outputs: Sequence[Output]) -> list[tuple[bytes | None, ResolvedRecord]]:
    assert all(out.topic == NAMES.resolved for out in outputs), outputs
    return [(out.key, decode_resolved(out.value or b"")) for out in outputs]


def test_a_valid_event_is_one_resolved_record_keyed_by_its_customer() -> None:
    stage = Stage()
    outputs = stage.send(interaction(customer_id="cust-1", anonymous_id="anon-1"))
    [(key, record)] = resolved(outputs)
    assert key == b"cust-1"
    assert record.kind == "event"
    assert record.customer_id == "cust-1"
    assert not record.provisional
    assert record.event is not None
    assert record.event.event_id == "evt-1"
    assert stage.count("concierge_intake_records_total", outcome="forwarded", code="") == 1
    assert stage.count("concierge_identity_events_total", outcome="resolved") == 1
    assert set(stage.tables[LINKS].data) == {"cid:cust-1", "anon:anon-1"}
    assert set(stage.tables[SEEN_EVENTS].data) == {"evt-1"}


def test_invalid_json_is_dead_lettered_with_its_code() -> None:
    stage = Stage()
    [out] = stage.send(b"{not json", key=b"k")
    assert out.topic == NAMES.dlq
    assert out.key == b"k"
    letter = orjson.loads(out.value or b"")
    assert letter["error"]["code"] == ErrorCode.invalid_json
    assert letter["source"] == {"topic": WEB, "partition": 0, "offset": 0}
    assert stage.count(
        "concierge_intake_records_total", outcome="dead_lettered", code="invalid_json"
    )
    assert all(not table.data for table in stage.tables.values())


def test_an_event_on_another_channels_topic_is_dead_lettered() -> None:
    stage = Stage()
    [out] = stage.send(interaction(customer_id="cust-1"), topic=PHONE)
    assert out.topic == NAMES.dlq
    assert orjson.loads(out.value or b"")["error"]["code"] == ErrorCode.channel_mismatch


def test_a_repeat_of_an_event_id_from_another_record_is_dropped() -> None:
    stage = Stage()
    stage.send(interaction(customer_id="cust-1"))
    assert stage.send(interaction(customer_id="cust-2")) == []
    assert stage.count("concierge_identity_events_total", outcome="duplicate") == 1
    assert "cid:cust-2" not in stage.tables[LINKS].data


def test_a_redelivered_record_is_sent_again_as_first_resolved_without_new_writes() -> None:
    stage = Stage()
    stage.send(interaction(anonymous_id="anon-1", event_id="evt-a"))
    record = stage.record(
        WEB,
        orjson.dumps(
            interaction("identify", customer_id="cust-1", anonymous_id="anon-1", event_id="evt-b")
        ),
    )
    first = stage.handle(record)
    links_before = dict(stage.tables[LINKS].data)
    sets_before = dict(stage.tables[IDENTIFIER_SETS].data)

    again = stage.handle(record)

    assert again == first
    assert [r.kind for _, r in resolved(again)] == ["merge_out", "event"]
    assert stage.tables[LINKS].data == links_before
    assert stage.tables[IDENTIFIER_SETS].data == sets_before
    assert stage.count("concierge_identity_events_total", outcome="redelivered") == 1


def test_an_anonymous_visitor_who_identifies_is_merged_before_the_event() -> None:
    stage = Stage()
    [(anonymous_key, anonymous)] = resolved(
        stage.send(interaction(anonymous_id="anon-1", event_id="e1"))
    )
    provisional = provisional_customer_id("anon:anon-1")
    assert anonymous_key == provisional.encode()
    assert anonymous.provisional

    outputs = resolved(
        stage.send(
            interaction("identify", customer_id="cust-1", anonymous_id="anon-1", event_id="e2")
        )
    )

    (merge_key, merge), (event_key, event) = outputs
    assert merge_key == provisional.encode()
    assert merge.kind == "merge_out"
    assert merge.merge_target == "cust-1"
    assert event_key == b"cust-1"
    assert event.kind == "event"
    assert not event.provisional
    links = stage.tables[LINKS].snapshot()
    assert orjson.loads(links["anon:anon-1"])["customer_id"] == "cust-1"
    assert provisional not in stage.tables[IDENTIFIER_SETS].data
    assert stage.count("concierge_identity_merges_total") == 1


def test_an_erasure_deletes_the_links_and_is_forwarded() -> None:
    stage = Stage()
    stage.send(interaction(customer_id="cust-1", anonymous_id="anon-1"))
    request = {
        "schema": "erasure/v1",
        "request_id": "req-1",
        "customer_id": "cust-1",
        "requested_at": "2025-05-01T12:00:00Z",
    }
    [(key, record)] = resolved(stage.send(request, topic=NAMES.privacy_requests))
    assert key == b"cust-1"
    assert record.kind == "erasure"
    assert record.erasure is not None
    assert record.erasure.request_id == "req-1"
    assert stage.tables[LINKS].data == {}
    assert stage.tables[IDENTIFIER_SETS].data == {}
    # The same visitor starts a new, provisional history.
    [(_, after)] = resolved(stage.send(interaction(anonymous_id="anon-1", event_id="evt-2")))
    assert after.provisional


def test_a_bad_erasure_request_is_dead_lettered() -> None:
    stage = Stage()
    [out] = stage.send({"schema": "erasure/v1"}, topic=NAMES.privacy_requests)
    assert out.topic == NAMES.dlq
    assert orjson.loads(out.value or b"")["error"]["code"] == ErrorCode.schema_violation


def test_a_batch_of_one_customers_events_keeps_their_order() -> None:
    stage = Stage()
    records = [
        stage.record(WEB, orjson.dumps(interaction(customer_id="cust-1", event_id=f"evt-{n}")))
        for n in range(5)
    ]
    outputs = [out for record in records for out in stage.handle(record)]
    events = [r.event.event_id for _, r in resolved(outputs) if r.event is not None]
    assert events == [f"evt-{n}" for n in range(5)]
    assert {out.key for out in outputs} == {b"cust-1"}


def test_phone_and_email_never_leave_the_stage_in_clear() -> None:
    stage = Stage()
    phone = "+442079460958"
    email = "Jane.Doe@example.com"
    outputs = [
        *stage.send(interaction("call_started", phone=phone, event_id="p1"), topic=PHONE),
        *stage.send(interaction("identify", customer_id="cust-1", email=email, event_id="e1")),
        *stage.send(b'{"identity": {"phone": "+442079460958"}}', key=phone.encode()),
    ]
    assert len(outputs) == 3
    stored = [value for table in stage.tables.values() for value in table.snapshot().values()]
    keys = [key for table in stage.tables.values() for key in table.data]
    for blob in [*(out.value or b"" for out in outputs), *(out.key or b"" for out in outputs)]:
        assert phone.encode() not in blob
        assert b"2079460958" not in blob
        assert email.encode() not in blob
        assert email.lower().encode() not in blob
    for blob in [*stored, *(key.encode() for key in keys)]:
        assert b"2079460958" not in blob
        assert b"example.com" not in blob


def test_expire_forgets_a_quiet_provisional_customer_only() -> None:
    stage = Stage()
    stage.send(interaction(anonymous_id="anon-1"))
    provisional = provisional_customer_id("anon:anon-1")
    assert stage.handler.expire(provisional, stage.views, NOW + timedelta(days=1)) == ()
    assert provisional in stage.tables[IDENTIFIER_SETS].data

    stage.handler.expire(provisional, stage.views, NOW + TTL + timedelta(days=1))
    assert stage.tables[LINKS].data == {}
    assert stage.tables[IDENTIFIER_SETS].data == {}
    assert stage.count("concierge_identity_events_total", outcome="expired") == 1


def test_a_known_customer_never_expires() -> None:
    stage = Stage()
    stage.send(interaction(customer_id="cust-1"))
    stage.handler.expire("cust-1", stage.views, NOW + TTL * 10)
    assert IdentifierSet.from_bytes(stage.tables[IDENTIFIER_SETS].snapshot()["cust-1"])


def test_a_record_from_an_unknown_topic_is_a_bug() -> None:
    stage = Stage()
    with pytest.raises(ValueError, match="not an interactions topic"):
        stage.send(interaction(customer_id="cust-1"), topic="elsewhere")
