"""Classifying a POST /v1/events body: whole-body refusals, then a verdict per item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from libs.common.topics import TopicNames
from libs.contract.common import Channel
from libs.contract.examples import example_interaction
from services.gateway.auth import Principal, Scope
from services.gateway.ingest import (
    Admitted,
    Body,
    BodyProblem,
    IngestLimits,
    NotWritten,
    Refused,
    Written,
    content_type_problem,
    foreign_items,
    item_results,
    judge_items,
    parse_body,
)

NOW = datetime(2025, 5, 1, 12, 1, tzinfo=UTC)
NAMES = TopicNames("t.")
LIMITS = IngestLimits(max_batch=5)
WEB = Principal(1, Channel.web, frozenset({Scope.events_write}))
OPERATOR = Principal(2, None, frozenset({Scope.events_write}))


def event(event_type: str = "page_view", **changes: Any) -> dict[str, Any]:
    record = example_interaction(event_type, event_id=changes.pop("event_id", "evt-1"))
    record.update(changes)
    return record


def body_of(*records: Any) -> Body:
    parsed = parse_body(orjson.dumps(list(records)), LIMITS.max_batch)
    assert isinstance(parsed, Body)
    return parsed


def judge(body: Body, fallback: Channel = Channel.web) -> list[Admitted | Refused]:
    return judge_items(body, fallback_channel=fallback, names=NAMES, limits=LIMITS, now=NOW)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", 'Application/JSON;charset="UTF-8"'],
)
def test_json_in_utf8_is_accepted(content_type: str) -> None:
    assert content_type_problem(content_type) is None


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json-seq",
        "application/json; charset=latin-1",
    ],
)
def test_anything_else_is_unsupported(content_type: str | None) -> None:
    assert content_type_problem(content_type) is not None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[1] [2]", "not valid JSON"),
        (b'"an event"', "one event"),
        (b"42", "one event"),
        (b"null", "one event"),
        (b"[]", "empty"),
        (b"[" + b",".join([b"{}"] * 6) + b"]", "6 events; at most 5"),
    ],
)
def test_bodies_refused_as_a_whole(body: bytes, problem: str) -> None:
    parsed = parse_body(body, max_batch=5)
    assert isinstance(parsed, BodyProblem)
    assert problem in parsed.message


def test_one_object_is_one_item_forwarded_as_sent() -> None:
    raw = b'  {"schema": "interaction/v1",  "x": 1.50}\n'
    parsed = parse_body(raw, max_batch=5)
    assert isinstance(parsed, Body)
    assert parsed.items == [b'{"schema": "interaction/v1",  "x": 1.50}']
    assert parsed.batch is False


def test_a_batch_keeps_each_item_as_sent() -> None:
    raw = b'[ {"a": 1.0},\n {"b": "x,]"} ]'
    parsed = parse_body(raw, max_batch=5)
    assert isinstance(parsed, Body)
    assert parsed.items == [b'{"a": 1.0}', b'{"b": "x,]"}']
    assert parsed.values == [{"a": 1.0}, {"b": "x,]"}]
    assert parsed.batch is True


def test_a_channel_key_may_not_send_another_channels_events() -> None:
    body = body_of(
        event("page_view"),
        event("call_started"),
        {"channel": "tv"},
        event("store_visit"),
        "not an object",
    )
    assert foreign_items(WEB, body) == [(1, Channel.phone), (3, Channel.store)]
    assert foreign_items(OPERATOR, body) == []


def test_valid_items_are_admitted_to_their_channel_topic_byte_for_byte() -> None:
    body = body_of(
        event("page_view", event_id="e-web"),
        event("call_started", event_id="e-phone"),
    )
    admitted = judge(body)
    assert all(isinstance(verdict, Admitted) for verdict in admitted)
    assert [(v.index, v.event_id, v.topic) for v in admitted if isinstance(v, Admitted)] == [
        (0, "e-web", "t.interactions.web"),
        (1, "e-phone", "t.interactions.phone"),
    ]
    assert [v.value for v in admitted if isinstance(v, Admitted)] == body.items


def test_forwarded_bytes_still_hold_the_raw_phone_for_intake_to_hash() -> None:
    record = event("call_started")
    (verdict,) = judge(body_of(record))
    assert isinstance(verdict, Admitted)
    assert b"+442079460958" in verdict.value
    assert b"hmac-sha256" not in verdict.value


@pytest.mark.parametrize(
    ("identity", "key"),
    [
        ({"customer_id": "c1", "loyalty_id": "l1", "anonymous_id": "a1"}, b"c1"),
        ({"loyalty_id": "l1", "device_id": "d1", "anonymous_id": "a1"}, b"l1"),
        ({"device_id": "d1", "anonymous_id": "a1"}, b"d1"),
        ({"anonymous_id": "a1", "email": "jane@example.com"}, b"a1"),
        ({"phone": "+442079460958", "email": "jane@example.com"}, None),
    ],
)
def test_the_kafka_key_is_the_strongest_identifier_never_phone_or_email(
    identity: dict[str, str], key: bytes | None
) -> None:
    (verdict,) = judge(body_of(event("identify", channel="web", identity=identity)))
    assert isinstance(verdict, Admitted)
    assert verdict.key == key


@pytest.mark.parametrize(
    ("record", "code", "path"),
    [
        (event(type="no_such_type"), "unknown_type", "type"),
        (event(occurred_at="2025-05-01T13:00:00Z"), "future_timestamp", "occurred_at"),
        (event(identity={}), "missing_identity", "identity"),
        (event(sesion_id="typo"), "schema_violation", "sesion_id"),
        (event(channel="tv"), "schema_violation", "channel"),
        (event("cart_add", attributes={}), "schema_violation", "attributes.product_id"),
        (event("call_started", channel="web"), "type_not_allowed_on_channel", "type"),
        (event(attributes={"blob": "x" * 40_000}), "too_large", None),
        (event(schema="interaction/v2"), "unsupported_schema", "schema"),
    ],
)
def test_invalid_items_carry_the_contract_code_and_path(
    record: dict[str, Any], code: str, path: str | None
) -> None:
    (verdict,) = judge(body_of(record))
    assert isinstance(verdict, Refused)
    assert (verdict.code, verdict.path, verdict.event_id) == (code, path, "evt-1")
    assert verdict.message


def test_an_item_that_is_not_an_object_is_a_schema_violation() -> None:
    (verdict,) = judge(body_of([1, 2]))
    assert isinstance(verdict, Refused)
    assert verdict.code == "schema_violation"
    assert verdict.event_id is None


def test_error_messages_never_repeat_a_raw_phone_or_email() -> None:
    bad_phone = event("call_started", identity={"phone": "+44 (0) 20 7946 0958"})
    bad_email = event(identity={"email": "jane.doe@@example"})
    for verdict in judge(body_of(bad_phone, bad_email)):
        assert isinstance(verdict, Refused)
        assert "7946" not in verdict.message
        assert "jane.doe" not in verdict.message


def test_results_are_in_request_order_with_positions_or_errors() -> None:
    verdicts = judge(
        body_of(event(event_id="a"), event(type="nope", event_id="b"), event(event_id="c"))
    )
    writes: dict[int, Written | NotWritten] = {0: Written(1, 41), 2: NotWritten("Kafka is down")}
    results = item_results(verdicts, writes)
    assert results == [
        {"index": 0, "event_id": "a", "status": "accepted", "partition": 1, "offset": 41},
        {
            "index": 1,
            "event_id": "b",
            "status": "rejected",
            "error": {
                "code": "unknown_type",
                "message": results[1]["error"]["message"],
                "path": "type",
            },
        },
        {
            "index": 2,
            "event_id": "c",
            "status": "failed",
            "error": {"code": "unavailable", "message": "Kafka is down", "path": None},
        },
    ]


def test_an_item_nested_a_thousand_levels_deep_is_refused_alone() -> None:
    deep = b"[" * 1020 + b"]" * 1020
    raw = b"[" + orjson.dumps(event(event_id="e-0")) + b"," + deep + b","
    raw += orjson.dumps(event(event_id="e-2")) + b"]"
    body = parse_body(raw, LIMITS.max_batch)
    assert isinstance(body, Body)
    first, middle, last = judge(body)
    assert isinstance(first, Admitted)
    assert isinstance(last, Admitted)
    assert isinstance(middle, Refused)
    assert (middle.index, middle.code) == (1, "schema_violation")


def test_an_item_too_deep_to_check_cannot_hide_a_duplicate_in_another() -> None:
    deep = b"[" * 1020 + b"]" * 1020
    raw = b"[" + orjson.dumps(event()) + b"," + deep + b',{"k": 1, "k": 2}]'
    parsed = parse_body(raw, max_batch=5)
    assert isinstance(parsed, BodyProblem)
    assert parsed.path == "[2].k"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b'{"channel": "phone", "type": "x", "channel": "web"}', "channel"),
        (
            b'[{"a": 1}, {"identity": {"customer_id": "a", "customer_id": "b"}}]',
            "[1].identity.customer_id",
        ),
    ],
)
def test_a_key_named_twice_refuses_the_body_with_its_path(body: bytes, path: str) -> None:
    parsed = parse_body(body, max_batch=5)
    assert isinstance(parsed, BodyProblem)
    assert parsed.path == path
    assert "twice" in parsed.message


@pytest.mark.parametrize("customer_id", [".", "..", "cust-1\n", "cust\u20281"])
def test_customer_ids_that_cannot_be_queried_back_are_refused(customer_id: str) -> None:
    record = event(identity={"customer_id": customer_id})
    (verdict,) = judge(body_of(record))
    assert isinstance(verdict, Refused)
    assert (verdict.code, verdict.path) == ("schema_violation", "identity.customer_id")
    assert "customer id must not" in verdict.message


def test_customer_ids_with_dots_inside_are_still_accepted() -> None:
    records = [event(identity={"customer_id": cid}) for cid in ("cust.42", "...", ".x", "a..b")]
    assert all(isinstance(verdict, Admitted) for verdict in judge(body_of(*records)))
