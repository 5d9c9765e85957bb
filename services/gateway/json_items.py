"""The bytes of each item of a JSON array, exactly as the sender wrote them.

The gateway forwards every event as sent (intake, not the gateway, judges and
hashes it), so a batch must be cut into its items' original bytes rather than
parsed and re-serialised: re-encoding could change number spellings, escapes
or key order, and the DLQ promises "the bytes as received".

Item ends are found by the standard library's C JSON scanner, which reports
where each value stops; a hand-written tokenizer in Python was 4x slower.
That scanner recurses once per nesting level and raises RecursionError
around 1,000 levels, which orjson (the gateway's parser, up to 1,024) still
accepts: only for such an item, its end is found by counting brackets.
"""

from __future__ import annotations

import json
import re
from typing import Final

_DECODER: Final = json.JSONDecoder()
_WHITESPACE: Final = re.compile(r"[ \t\n\r]*")
_SEPARATOR: Final = re.compile(r"[ \t\n\r]*([,\]])[ \t\n\r]*")
# A string (whose brackets do not count) or a bracket.
_STRING_OR_BRACKET: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def split_array(document: bytes) -> list[bytes]:
    """Items of a top-level JSON array, without the whitespace around them.

    `document` must already be known to be one well-formed JSON array (the
    gateway parses it strictly first); anything else raises ValueError.
    """
    text = document.decode("utf-8")
    # Character offsets are byte offsets in ASCII text: slice the bytes as sent.
    ascii_only = text.isascii()
    index = _after_whitespace(text, 0)
    if text[index : index + 1] != "[":
        raise ValueError("not a JSON array")
    index = _after_whitespace(text, index + 1)
    items: list[bytes] = []
    if text[index : index + 1] == "]":
        return items
    while True:
        try:
            _, end = _DECODER.raw_decode(text, index)
        except RecursionError:
            end = _end_of_container(text, index)
        items.append(document[index:end] if ascii_only else text[index:end].encode("utf-8"))
        separator = _SEPARATOR.match(text, end)
        if separator is None:
            raise ValueError("not a complete JSON array")
        if separator[1] == "]":
            return items
        index = separator.end()


def _end_of_container(text: str, index: int) -> int:
    """Where the array or object starting at `index` ends, at any depth.

    Iterative, and only correct for well-formed JSON, which the caller has.
    """
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text, index):
        token = match[0]
        if token[0] == '"':
            continue
        depth += 1 if token in "[{" else -1
        if depth == 0:
            return match.end()
    raise ValueError("not a complete JSON array")


def _after_whitespace(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    assert match is not None  # `*` matches the empty string too
    return match.end()
