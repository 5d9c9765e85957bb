"""Dead letters keep the evidence (bytes, source, time) but no raw phone or e-mail."""

import time

import orjson
import pytest

from libs.contract.codec import from_json_bytes, to_json_bytes
from libs.contract.common import Channel
from libs.contract.dlq import DeadLetter, ErrorCode
from libs.contract.examples import example_interaction
from services.intake.domain.dead_letter import scrub
from services.intake.domain.validate import Rejected
from tests.unit.intake.support import NOW, judge, rejected, source


def test_dead_letter_carries_original_source_and_time() -> None:
    value = b'{"schema": "interaction/v1", "type": 3}'
    letter = rejected(value).dead_letter
    assert letter.original_bytes() == value
    assert letter.original_size == len(value)
    assert not letter.original_truncated
    assert not letter.original_redacted
    assert letter.source == source(Channel.web)
    assert letter.rejected_at == NOW


def test_dead_letter_round_trips() -> None:
    letter = rejected(b"[]").dead_letter
    assert from_json_bytes(DeadLetter, to_json_bytes(letter)) == letter


def test_a_tombstone_has_a_null_original() -> None:
    letter = rejected(None).dead_letter
    assert (letter.original, letter.original_size) == (None, 0)
    assert orjson.loads(to_json_bytes(letter))["original"] is None


def test_identity_values_are_masked_and_all_else_kept_byte_for_byte() -> None:
    record = example_interaction("page_view")
    record["identity"] = {"phone": "01632 960 123", "email": "Jane@Example.com"}
    value = orjson.dumps(record)
    letter = rejected(value).dead_letter
    assert letter.error.code is ErrorCode.schema_violation
    assert letter.original_redacted
    expected = value.replace(b'"01632 960 123"', b'"[redacted]"').replace(
        b'"Jane@Example.com"', b'"[redacted]"'
    )
    assert letter.original_bytes() == expected
    assert b"960 123" not in to_json_bytes(letter)


def test_escaped_identity_values_are_masked_by_re_encoding() -> None:
    value = (
        b'{"schema":"interaction/v1","type":"page_view","channel":"web",'
        b'"identity":{"email":"jane\\u0040example.com","phone":447946095800000000}}'
    )
    original = rejected(value).dead_letter.original_bytes()
    assert original is not None
    assert orjson.loads(original)["identity"] == {"email": "[redacted]", "phone": "[redacted]"}


def test_a_phone_named_twice_is_masked_in_both_values() -> None:
    record = example_interaction("page_view")
    record["identity"] = {"phone": "01632 960 999"}
    value = orjson.dumps(record).replace(
        b'"phone":"01632 960 999"', b'"phone":"01632 960 123","phone":"01632 960 999"'
    )
    letter = rejected(value).dead_letter
    assert (letter.error.code, letter.error.path) == (ErrorCode.duplicate_key, "identity.phone")
    assert letter.original_redacted
    assert b"960" not in to_json_bytes(letter)


def test_a_duplicate_outside_identity_keeps_the_bytes_as_sent() -> None:
    value = orjson.dumps(example_interaction("page_view"))[:-1] + b',"channel":"phone"}'
    letter = rejected(value).dead_letter
    assert letter.error.code is ErrorCode.duplicate_key
    assert letter.original_bytes() == value


def test_unparseable_records_are_scrubbed_of_phone_and_email_shapes() -> None:
    value = b'{"identity": {"email": "jane.doe@example.com", "phone": "+44 20 7946 0958"'
    letter = rejected(value).dead_letter
    assert letter.error.code is ErrorCode.invalid_json
    original = letter.original_bytes()
    assert original == b'{"identity": {"email": "[redacted]", "phone": "[redacted]"'


def test_scrub_leaves_ordinary_records_alone() -> None:
    value = orjson.dumps(example_interaction("purchase", occurred_at="2025-05-01T12:00:00+02:00"))
    assert scrub(value, orjson.loads(value)) == value


def test_oversized_records_keep_a_prefix() -> None:
    value = b'{"note": "' + b"x" * 200_000 + b'"}'
    letter = rejected(value).dead_letter
    assert letter.error.code is ErrorCode.too_large
    assert letter.original_truncated
    assert letter.original_size == len(value)
    assert letter.original_bytes() == value[: 64 * 1024]


def test_prefix_size_is_configurable() -> None:
    outcome = judge(b"x" * 50_000, max_original_bytes=10)
    assert isinstance(outcome, Rejected)
    assert outcome.dead_letter.original_bytes() == b"x" * 10


def test_messages_never_repeat_a_phone_or_email() -> None:
    record = example_interaction("page_view")
    record["identity"] = {"phone": "+44 (0)20 7946 0958", "email": "not-an-address"}
    message = rejected(record).dead_letter.error.message
    assert "7946" not in message
    assert "not-an-address" not in message


@pytest.mark.parametrize("unit", [b"x", b"a.", b"+1 ", b"x@", b"@x"])
def test_scrubbing_stays_linear_on_hostile_input(unit: bytes) -> None:
    value = unit * (64 * 1024 // len(unit))
    started = time.perf_counter()
    scrub(value)
    # Linear work on 64 KiB takes milliseconds; the quadratic regex took seconds.
    assert time.perf_counter() - started < 0.5


def test_paths_and_messages_built_from_sender_keys_are_scrubbed() -> None:
    record = example_interaction("page_view")
    record["identity"]["jane@example.com"] = "oops"
    error = rejected(record).dead_letter.error
    assert error.path == 'identity["[redacted]"]'
    assert "jane@" not in error.message


def test_messages_stay_short_whatever_the_key() -> None:
    record = example_interaction("page_view")
    record["k" * 20_000] = 1
    error = rejected(record).dead_letter.error
    assert error.path == "k" * 20_000
    assert len(error.message) < 200
