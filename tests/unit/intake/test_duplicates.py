"""Finding a key named twice in one object, and where."""

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.domain.duplicates import DuplicateKey, TooDeep, first_duplicate_key


@pytest.mark.parametrize(
    ("document", "found"),
    [
        (b'{"a": 1, "a": 2}', DuplicateKey("a", "a")),
        (b'{"a": {"b": 1, "b": 2}}', DuplicateKey("a.b", "b")),
        (b'{"\\u0061": 1, "a": 2}', DuplicateKey("a", "a")),
        (b'[{"x": 1}, {"y": [0, {"z": 1, "z": 2}]}]', DuplicateKey("[1].y[1].z", "z")),
        (b'{"s": "\\", \\"s\\": ", "s": 1}', DuplicateKey("s", "s")),
        (b'{"utm.source": {"k": 1, "k": 1}}', DuplicateKey('["utm.source"].k', "k")),
    ],
)
def test_the_first_duplicate_is_named_by_its_path(document: bytes, found: DuplicateKey) -> None:
    orjson.loads(document)
    assert first_duplicate_key(document) == found


@pytest.mark.parametrize(
    "document",
    [
        b'{"a": 1, "b": {"a": 2}}',
        b'[{"a": 1}, {"a": 2}]',
        b'{"a": "a", "b": ["a", "a"]}',
    ],
)
def test_the_same_key_in_different_objects_is_no_duplicate(document: bytes) -> None:
    assert first_duplicate_key(document) is None


def test_a_document_too_deep_for_any_valid_event_is_not_walked() -> None:
    deep = b"[" + b"[" * 1000 + b"]" * 1000 + b',{"k": 1, "k": 2}]'
    assert first_duplicate_key(deep) == TooDeep()


def test_a_path_within_a_larger_document_starts_there() -> None:
    found = first_duplicate_key(b'{"k": 1, "k": 2}', within=(3, "x"))
    assert found == DuplicateKey("[3].x.k", "k")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=json_values, ascii_only=st.booleans())
def test_json_written_from_a_dict_never_has_duplicates(value: Any, ascii_only: bool) -> None:
    assert first_duplicate_key(json.dumps(value, ensure_ascii=ascii_only).encode()) is None


@settings(max_examples=300, deadline=None)
@given(value=json_values, key=st.text(max_size=4))
def test_a_repeated_member_is_always_found(value: Any, key: str) -> None:
    document = json.dumps({"outer": {key: value}}).encode()
    member = json.dumps(key).encode() + b": " + json.dumps(value).encode()
    doubled = document.replace(b"{" + member, b"{" + member + b", " + member, 1)
    found = first_duplicate_key(doubled)
    assert isinstance(found, DuplicateKey)
    assert found.key == key
