"""Every dead-letter code, with its path, and which one wins when several apply."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest

from libs.contract.common import Channel
from libs.contract.dlq import ErrorCode
from libs.contract.examples import example_interaction
from services.intake.domain.pii import PiiKey
from services.intake.domain.validate import Rejected
from tests.unit.intake.support import NOW, judge, rejected

Record = dict[str, Any]


def web(event_type: str = "page_view", **changes: Any) -> Record:
    record = example_interaction(event_type, channel=Channel.web)
    record.update(changes)
    return record


def without(record: Record, *keys: str) -> Record:
    for key in keys:
        del record[key]
    return record


def with_identity(record: Record, identity: Any) -> Record:
    record["identity"] = identity
    return record


def padded_to(size: int) -> bytes:
    record = web()
    record["attributes"]["padding"] = ""
    filler = size - len(orjson.dumps(record))
    record["attributes"]["padding"] = "x" * filler
    value = orjson.dumps(record)
    assert len(value) == size
    return value


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def ahead(seconds: int) -> str:
    return (NOW + timedelta(seconds=seconds)).isoformat()


Case = tuple[str, Callable[[], Record | bytes | None], ErrorCode, str | None]
CASES: list[Case] = [
    ("tombstone", lambda: None, ErrorCode.empty_record, None),
    ("empty bytes", lambda: b"", ErrorCode.empty_record, None),
    ("too large, checked before parsing", lambda: b"\xff" * 40_000, ErrorCode.too_large, None),
    ("too large by one byte", lambda: padded_to(32 * 1024 + 1), ErrorCode.too_large, None),
    ("latin-1", lambda: '{"q": "café"}'.encode("latin-1"), ErrorCode.invalid_encoding, None),
    ("bad utf-8 in broken json", lambda: b'{"q": "\xc3', ErrorCode.invalid_encoding, None),
    ("utf-16", lambda: "{}".encode("utf-16"), ErrorCode.invalid_encoding, None),
    ("truncated json", lambda: orjson.dumps(web())[:-1], ErrorCode.invalid_json, None),
    ("NaN", lambda: b'{"schema": NaN}', ErrorCode.invalid_json, None),
    (
        "byte order mark",
        lambda: b"\xef\xbb\xbf" + orjson.dumps(web()),
        ErrorCode.invalid_json,
        None,
    ),
    ("lone surrogate", lambda: b'{"event_id": "\\ud800"}', ErrorCode.invalid_json, None),
    ("two values", lambda: b"{} {}", ErrorCode.invalid_json, None),
    (
        "channel named twice",
        lambda: orjson.dumps(web())[:-1] + b', "channel": "phone"}',
        ErrorCode.duplicate_key,
        "channel",
    ),
    (
        "customer id named twice, spelt differently",
        lambda: orjson.dumps(with_identity(web(), {"customer_id": "c1"})).replace(
            b'"customer_id"', b'"customer_id": "c0", "\\u0063ustomer_id"'
        ),
        ErrorCode.duplicate_key,
        "identity.customer_id",
    ),
    (
        "duplicate in an array's object, before not-an-object",
        lambda: b'[{"a": 1}, {"b": 1, "b": 2}]',
        ErrorCode.duplicate_key,
        "[1].b",
    ),
    ("array", lambda: b"[1, 2]", ErrorCode.schema_violation, None),
    ("string", lambda: b'"hello"', ErrorCode.schema_violation, None),
    ("null", lambda: b"null", ErrorCode.schema_violation, None),
    ("other schema", lambda: web(schema="interaction/v2"), ErrorCode.unsupported_schema, "schema"),
    *(
        (
            f"customer id {customer_id!r}",
            lambda customer_id=customer_id: with_identity(web(), {"customer_id": customer_id}),
            ErrorCode.schema_violation,
            "identity.customer_id",
        )
        for customer_id in (".", "..", "cust\n42", "cust\r", "\u2028", "a\x00b", "\x7f")
    ),
    (
        "other schema outranks everything",
        lambda: without(web(schema="action/v1", type="nope"), "event_id", "identity"),
        ErrorCode.unsupported_schema,
        "schema",
    ),
    ("no schema", lambda: without(web(), "schema"), ErrorCode.schema_violation, "schema"),
    ("schema not a string", lambda: web(schema=1), ErrorCode.schema_violation, "schema"),
    ("unknown type", lambda: web(type="survey"), ErrorCode.unknown_type, "type"),
    ("wrong case", lambda: web(type="Page_View"), ErrorCode.unknown_type, "type"),
    (
        "unknown type outranks violations",
        lambda: without(web(type="survey"), "event_id", "identity"),
        ErrorCode.unknown_type,
        "type",
    ),
    ("type not a string", lambda: web(type=7), ErrorCode.schema_violation, "type"),
    ("no event_id", lambda: without(web(), "event_id"), ErrorCode.schema_violation, "event_id"),
    ("long event_id", lambda: web(event_id="e" * 129), ErrorCode.schema_violation, "event_id"),
    ("unknown channel", lambda: web(channel="fax"), ErrorCode.schema_violation, "channel"),
    (
        "naive occurred_at",
        lambda: web(occurred_at="2025-05-01T12:00:00"),
        ErrorCode.schema_violation,
        "occurred_at",
    ),
    (
        "epoch occurred_at",
        lambda: web(occurred_at=1746100800),
        ErrorCode.schema_violation,
        "occurred_at",
    ),
    (
        "bad phone",
        lambda: with_identity(web(), {"phone": "07946 0958"}),
        ErrorCode.schema_violation,
        "identity.phone",
    ),
    (
        "sender-set phone_hash",
        lambda: with_identity(web(), {"customer_id": "c", "phone_hash": "hmac-sha256:" + "0" * 64}),
        ErrorCode.schema_violation,
        "identity.phone_hash",
    ),
    (
        "sender-set received_at",
        lambda: web(received_at="2025-05-01T12:00:00Z"),
        ErrorCode.schema_violation,
        "received_at",
    ),
    ("unknown envelope field", lambda: web(priority=1), ErrorCode.schema_violation, "priority"),
    (
        "attributes not an object",
        lambda: web(attributes=[1]),
        ErrorCode.schema_violation,
        "attributes",
    ),
    (
        "attributes nested too deep",
        lambda: web(attributes={"deep": nested(40)}),
        ErrorCode.schema_violation,
        "attributes",
    ),
    (
        "nested attribute",
        lambda: web("purchase", attributes={"order_id": "o", "items": [{"category": "c"}]}),
        ErrorCode.schema_violation,
        "attributes.items[0].product_id",
    ),
    (
        "envelope before attributes",
        lambda: without(web("cart_add", attributes={}), "event_id"),
        ErrorCode.schema_violation,
        "event_id",
    ),
    ("empty identity", lambda: with_identity(web(), {}), ErrorCode.missing_identity, "identity"),
    ("no identity", lambda: without(web(), "identity"), ErrorCode.missing_identity, "identity"),
    ("null identity", lambda: with_identity(web(), None), ErrorCode.missing_identity, "identity"),
    (
        "identity of nulls",
        lambda: with_identity(web(), {"customer_id": None, "email": None}),
        ErrorCode.missing_identity,
        "identity",
    ),
    (
        "identity not an object",
        lambda: with_identity(web(), "c-1"),
        ErrorCode.schema_violation,
        "identity",
    ),
    (
        "attributes before identity",
        lambda: with_identity(web("cart_add", attributes={}), {}),
        ErrorCode.schema_violation,
        "attributes.product_id",
    ),
    (
        "envelope before identity",
        lambda: with_identity(without(web(), "event_id"), {}),
        ErrorCode.schema_violation,
        "event_id",
    ),
    ("channel mismatch", lambda: web(channel="mobile"), ErrorCode.channel_mismatch, "channel"),
    (
        "channel mismatch before type on channel",
        lambda: example_interaction("call_started", channel=Channel.phone),
        ErrorCode.channel_mismatch,
        "channel",
    ),
    (
        "phone type on web",
        lambda: web("call_started"),
        ErrorCode.type_not_allowed_on_channel,
        "type",
    ),
    ("store type on web", lambda: web("return"), ErrorCode.type_not_allowed_on_channel, "type"),
    (
        "future",
        lambda: web(occurred_at=ahead(5 * 60 + 1)),
        ErrorCode.future_timestamp,
        "occurred_at",
    ),
    (
        "future in another offset",
        lambda: web(occurred_at="2025-05-01T14:07:00+02:00"),
        ErrorCode.future_timestamp,
        "occurred_at",
    ),
    (
        "type on channel before future",
        lambda: web("ivr_step", occurred_at=ahead(3600)),
        ErrorCode.type_not_allowed_on_channel,
        "type",
    ),
]


@pytest.mark.parametrize(
    ("make", "code", "path"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_rejections(
    make: Callable[[], Record | bytes | None], code: ErrorCode, path: str | None
) -> None:
    error = rejected(make()).dead_letter.error
    assert (error.code, error.path) == (code, path), error.message
    assert error.message


def test_every_error_code_but_internal_error_is_exercised() -> None:
    assert {case[2] for case in CASES} == set(ErrorCode) - {ErrorCode.internal_error}


def test_a_bug_is_dead_lettered_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(PiiKey, "hash", broken)
    record = with_identity(web(), {"email": "jane@example.com"})
    error = rejected(record).dead_letter.error
    assert error.code is ErrorCode.internal_error
    assert "RuntimeError" in error.message


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: web(channel="mobile"),
            "channel is 'mobile' but topic interactions.web carries 'web'",
        ),
        (lambda: web("call_started"), "'call_started' events may come only from phone"),
        (lambda: web(occurred_at=ahead(3600)), "3600 s ahead"),
        (lambda: padded_to(40_000), "40000 bytes; at most 32768"),
        (lambda: web(type="survey"), "type: 'survey' is neither"),
    ],
)
def test_messages_say_what_is_wrong(make: Callable[[], Record | bytes], message: str) -> None:
    assert message in rejected(make()).dead_letter.error.message


def test_message_lists_the_other_problems() -> None:
    record = without(web(event_id="", channel="fax"), "occurred_at")
    message = rejected(record).dead_letter.error.message
    assert message.startswith("event_id: String should have at least 1 character")
    assert "(also: channel, occurred_at)" in message


def test_size_limit_is_configurable() -> None:
    value = orjson.dumps(web())
    outcome = judge(value, max_bytes=len(value) - 1)
    assert isinstance(outcome, Rejected)
    assert outcome.code is ErrorCode.too_large
