"""Whatever bytes arrive, validate_record answers Accepted or Rejected and never raises."""

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.contract.codec import from_json_bytes, to_json_bytes
from libs.contract.common import Channel
from libs.contract.dlq import DeadLetter, ErrorCode
from libs.contract.examples import example_interaction
from libs.contract.interaction import InteractionEvent
from libs.contract.vocabulary import EventType
from services.intake.domain.validate import DEFAULT_MAX_FUTURE, Accepted, Rejected
from tests.unit.intake.support import NOW, judge

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
tricky_strings = st.sampled_from(
    [
        "",
        " ",
        "x" * 200,
        "+44 20 7946 0958",
        "jane@example.com",
        "2025-13-01T00:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "0002-01-01T00:00:00+14:00",
        "x-",
        "x-custom",
        "interaction/v2",
        "web",
        "phone",
        "hmac-sha256:" + "0" * 64,
        "\u0000",
        "🎧",
    ]
)
replacements = json_values | tricky_strings

Path = tuple[str | int, ...]


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _parent(record: Any, path: Path) -> Any:
    for part in path[:-1]:
        record = record[part]
    return record


@st.composite
def near_valid_records(draw: st.DrawFn) -> tuple[bytes, Channel]:
    """A valid record of some type, then one to three small mutations."""
    event_type = draw(st.sampled_from(list(EventType)))
    record: Any = example_interaction(event_type)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [path for path in _paths(record) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(record, path)
        action = draw(st.sampled_from(["delete", "replace", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(replacements)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(replacements)
    # Mostly the record's own topic, so that mutations reach the later checks.
    own = Channel(example_interaction(event_type)["channel"])
    topic = draw(st.sampled_from([own, own, own, *Channel]))
    return orjson.dumps(record), topic


@st.composite
def corrupted_bytes(draw: st.DrawFn) -> bytes:
    """A valid record's bytes with a few bytes flipped, dropped or inserted."""
    value = bytearray(orjson.dumps(example_interaction(draw(st.sampled_from(list(EventType))))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        index = draw(st.integers(min_value=0, max_value=len(value) - 1))
        action = draw(st.sampled_from(["flip", "drop", "insert"]))
        if action == "flip":
            value[index] = draw(st.integers(min_value=0, max_value=255))
        elif action == "drop":
            del value[index]
        else:
            value.insert(index, draw(st.integers(min_value=0, max_value=255)))
    return bytes(value)


def _check(value: bytes | None, topic: Channel) -> None:
    outcome = judge(value, topic)
    if isinstance(outcome, Accepted):
        _check_accepted(outcome.event, topic)
    else:
        assert isinstance(outcome, Rejected)
        _check_rejected(outcome, value)


def _check_accepted(event: InteractionEvent, topic: Channel) -> None:
    assert event.channel == topic
    assert event.identity.phone is None
    assert event.identity.email is None
    assert event.occurred_at - NOW <= DEFAULT_MAX_FUTURE
    assert event.received_at == NOW
    event.typed_attributes()
    assert from_json_bytes(InteractionEvent, to_json_bytes(event)) == event


def _check_rejected(outcome: Rejected, value: bytes | None) -> None:
    letter = outcome.dead_letter
    assert outcome.code in ErrorCode
    assert outcome.code is not ErrorCode.internal_error
    assert letter.error.message
    assert from_json_bytes(DeadLetter, to_json_bytes(letter)) == letter
    if value is not None and not (letter.original_redacted or letter.original_truncated):
        assert letter.original_bytes() == value


@PROPERTY_SETTINGS
@given(value=st.none() | st.binary(max_size=600), topic=st.sampled_from(list(Channel)))
def test_arbitrary_bytes(value: bytes | None, topic: Channel) -> None:
    _check(value, topic)


@PROPERTY_SETTINGS
@given(value=json_values, topic=st.sampled_from(list(Channel)))
def test_arbitrary_json(value: Any, topic: Channel) -> None:
    _check(orjson.dumps(value), topic)


@PROPERTY_SETTINGS
@given(case=near_valid_records())
def test_near_valid_records(case: tuple[bytes, Channel]) -> None:
    _check(*case)


@PROPERTY_SETTINGS
@given(value=corrupted_bytes(), topic=st.sampled_from(list(Channel)))
def test_corrupted_records(value: bytes, topic: Channel) -> None:
    _check(value, topic)


@PROPERTY_SETTINGS
@given(levels=st.integers(min_value=1, max_value=400), in_list=st.booleans())
def test_nesting_depth(levels: int, in_list: bool) -> None:
    # Accepting a record nested past what the JSON layer can re-read would
    # poison every consumer downstream; the round trip in _check proves it can't.
    deep: Any = {}
    for _ in range(levels):
        deep = [deep] if in_list else {"a": deep}
    record = example_interaction("page_view")
    record["attributes"]["deep"] = deep
    _check(json.dumps(record).encode(), Channel.web)  # orjson refuses to write it
