"""Cutting a JSON array into its items' original bytes."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.json_items import split_array


@pytest.mark.parametrize(
    ("document", "items"),
    [
        (b"[1]", [b"1"]),
        (b"[ 1 , 2 ]", [b"1", b"2"]),
        (b'[{"a": [1, 2, {"b": "]"}]}, "x"]', [b'{"a": [1, 2, {"b": "]"}]}', b'"x"']),
        (b'["a,b", "c\\"]d", "\\\\"]', [b'"a,b"', b'"c\\"]d"', b'"\\\\"']),
        (b'\n[\n  {"k": "{[,"}\n,\t{}\r\n]\n', [b'{"k": "{[,"}', b"{}"]),
        (
            '[{"name": "Zoë ✓"}, {"e": "\\u00e9"}]'.encode(),
            ['{"name": "Zoë ✓"}'.encode(), b'{"e": "\\u00e9"}'],
        ),
        (b"[[], [[]], {}]", [b"[]", b"[[]]", b"{}"]),
        (b"[]", []),
    ],
)
def test_items_are_the_bytes_as_written(document: bytes, items: list[bytes]) -> None:
    assert split_array(document) == items


def test_number_spellings_survive_unchanged() -> None:
    document = b'[{"price": 1.50, "big": 1E+2, "neg": -0.0}]'
    assert split_array(document) == [b'{"price": 1.50, "big": 1E+2, "neg": -0.0}']


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(json_values, min_size=1, max_size=6),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
)
def test_every_item_parses_back_to_what_the_array_held(
    items: list[Any], indent: int | None, ascii_only: bool
) -> None:
    document = json.dumps(items, indent=indent, ensure_ascii=ascii_only).encode()
    parsed = orjson.loads(document)
    cut = split_array(document)
    assert [orjson.loads(item) for item in cut] == parsed
    # Byte-exact: each item is a slice of the document as sent.
    for item in cut:
        assert item in document


@pytest.mark.parametrize(
    "deep",
    [
        b"[" * 1020 + b"]" * 1020,
        b'{"a":' * 1020 + b'"]}[{\\""' + b"}" * 1020,
    ],
)
def test_an_item_nested_deeper_than_the_stdlib_scanner_recurses_is_still_cut_out(
    deep: bytes,
) -> None:
    document = b'[{"before": 1}, ' + deep + b' , "after"]'
    orjson.loads(document)  # the gateway's parser accepts it
    assert split_array(document) == [b'{"before": 1}', deep, b'"after"']
