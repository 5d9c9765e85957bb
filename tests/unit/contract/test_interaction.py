"""The interaction envelope: timestamps, identity, fields only Concierge sets."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from libs.contract.codec import from_json_bytes, to_json_bytes
from libs.contract.examples import example_interaction
from libs.contract.identifiers import normalise_email, normalise_phone
from libs.contract.interaction import Identity, InteractionEvent

HASH = "hmac-sha256:" + "ab" * 32


def _errors(record: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as raised:
        InteractionEvent.from_sender(record)
    return [(tuple(error["loc"]), error["type"]) for error in raised.value.errors()]


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2025-05-01T12:00:00Z", datetime(2025, 5, 1, 12, tzinfo=UTC)),
        ("2025-05-01t12:00:00z", datetime(2025, 5, 1, 12, tzinfo=UTC)),
        ("2025-05-01T14:00:00+02:00", datetime(2025, 5, 1, 12, tzinfo=UTC)),
        ("2025-05-01T07:30:00.5-04:30", datetime(2025, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_rfc3339_timestamps_with_an_offset_are_accepted(written: str, instant: datetime) -> None:
    record = example_interaction("app_open", occurred_at=written)
    assert InteractionEvent.from_sender(record).occurred_at == instant


@pytest.mark.parametrize(
    "written",
    [
        "2025-05-01T12:00:00",  # naive
        "2025-05-01",
        "2025-05-01 12:00:00Z",
        "2025-05-01T12:00Z",
        "2025-05-01T12:00:00+0200",
        "1746100800",
        1746100800,
        "2025-02-30T12:00:00Z",
        "0001-01-01T00:00:00+14:00",  # not representable in UTC
        "",
    ],
)
def test_other_timestamps_are_refused(written: object) -> None:
    record = example_interaction("app_open")
    record["occurred_at"] = written
    assert [loc for loc, _ in _errors(record)] == [("occurred_at",)]


def test_a_naive_datetime_is_refused_from_python_too() -> None:
    record = example_interaction("app_open")
    record["occurred_at"] = datetime(2025, 5, 1, 12)
    assert _errors(record) == [(("occurred_at",), "timezone_aware")]


def test_the_sender_offset_is_kept() -> None:
    record = example_interaction("app_open", occurred_at="2025-05-01T14:00:00+02:00")
    event = InteractionEvent.from_sender(record)
    assert event.occurred_at.utcoffset() == timedelta(hours=2)
    assert b'"occurred_at":"2025-05-01T14:00:00+02:00"' in to_json_bytes(event)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("+442079460958", "+442079460958"),
        (" +44 20 7946 0958 ", "+442079460958"),
        ("+1 (555) 123-4567", "+15551234567"),
        ("+33.1.23.45.67.89", "+33123456789"),
    ],
)
def test_phone_numbers_are_reduced_to_e164(raw: str, normalised: str) -> None:
    assert normalise_phone(raw) == normalised
    assert Identity(phone=raw).phone == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "02079460958",
        "+44 (0) 20 7946 0958",
        "+0123456789",
        "+12345",
        "+1234567890123456",
        "call me",
    ],
)
def test_non_e164_phone_numbers_are_refused_without_echoing_them(raw: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Identity(phone=raw)
    assert raw not in str(raised.value.errors(include_input=False))


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [(" Jane.Doe@Example.COM ", "jane.doe@example.com"), ("a+tag@b.co", "a+tag@b.co")],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize("raw", ["jane", "jane@localhost", "a b@c.com", "@example.com", "a@@b.com"])
def test_malformed_emails_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"name@example\.com"):
        normalise_email(raw)


@pytest.mark.parametrize("identity", [{}, {"customer_id": None}, {"phone": None, "email": None}])
def test_identity_needs_an_identifier(identity: dict[str, Any]) -> None:
    record = example_interaction("app_open")
    record["identity"] = identity
    assert _errors(record) == [(("identity",), "missing_identity")]


def test_an_empty_identifier_is_a_violation_not_an_absence() -> None:
    record = example_interaction("app_open")
    record["identity"] = {"customer_id": ""}
    assert _errors(record) == [(("identity", "customer_id"), "string_too_short")]


@pytest.mark.parametrize(
    ("location", "field"),
    [("identity", "phone_hash"), ("identity", "email_hash"), (None, "received_at")],
)
def test_senders_may_not_set_what_concierge_sets(location: str | None, field: str) -> None:
    record = example_interaction("app_open")
    value = "2025-05-01T12:00:00Z" if field == "received_at" else HASH
    (record[location] if location else record)[field] = value
    loc = (location, field) if location else (field,)
    assert _errors(record) == [(loc, "concierge_only")]


def test_concierge_set_fields_parse_on_internal_topics() -> None:
    record = example_interaction("app_open")
    record["identity"] = {"phone_hash": HASH}
    record["received_at"] = "2025-05-01T12:00:01Z"
    event = from_json_bytes(InteractionEvent, orjson.dumps(record))
    assert event.identity.phone_hash == HASH
    assert event.received_at == datetime(2025, 5, 1, 12, 0, 1, tzinfo=UTC)


def test_unknown_envelope_fields_are_refused() -> None:
    record = example_interaction("app_open")
    record["sesion_id"] = "typo"
    assert _errors(record) == [(("sesion_id",), "extra_forbidden")]


def test_python_names_are_not_wire_names() -> None:
    record = example_interaction("app_open")
    record["schema_"] = record.pop("schema")
    assert set(_errors(record)) == {(("schema",), "missing"), (("schema_",), "extra_forbidden")}


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": [value]}
    return value


def test_attributes_nest_at_most_32_levels() -> None:
    # Lists count as levels too; the attributes object itself is level 1.
    record = example_interaction("app_open")
    record["attributes"] = _nested(16)  # 16 objects + 15 lists = 31 levels
    InteractionEvent.from_sender(record)
    record["attributes"] = {"list": [_nested(16)]}  # 33 levels
    assert _errors(record) == [(("attributes",), "too_deep")]


def test_null_attributes_mean_none() -> None:
    record = example_interaction("app_open")
    record["attributes"] = None
    assert InteractionEvent.from_sender(record).attributes == {}
    del record["attributes"]
    assert InteractionEvent.from_sender(record).attributes == {}


def test_absent_optionals_are_left_out_of_the_json_but_null_attribute_values_kept() -> None:
    record = example_interaction("checkout_failed")
    del record["session_id"]
    record["attributes"] = {"reason": None, "retry": None}
    data = orjson.loads(to_json_bytes(InteractionEvent.from_sender(record)))
    assert "session_id" not in data
    assert "received_at" not in data
    assert set(data["identity"]) == {"customer_id", "anonymous_id"}
    assert data["attributes"] == {"reason": None, "retry": None}


def test_interaction_round_trips_through_bytes() -> None:
    record = example_interaction("purchase", occurred_at="2025-05-01T13:00:00.123456+01:00")
    event = InteractionEvent.from_sender(record)
    completed = event.model_copy(
        update={"received_at": datetime(2025, 5, 1, 12, 0, 1, tzinfo=timezone(timedelta(0)))}
    )
    for model in (event, completed):
        assert from_json_bytes(InteractionEvent, to_json_bytes(model)) == model
    assert orjson.loads(to_json_bytes(event)) == {
        **record,
        "occurred_at": "2025-05-01T13:00:00.123456+01:00",
    }
