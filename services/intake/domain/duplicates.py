"""Objects that name a key twice: refused, because JSON parsers disagree on them.

RFC 8259 leaves duplicate names to the parser: orjson (Concierge's) keeps the
last value, other parsers keep the first or fail. A record that means one
thing to Concierge and another to a consumer with a different parser is a
spoofing hole on a contract topic (`"channel": "phone"` then `"channel":
"web"`), so such records are refused, by the gateway and by intake.

The check is one pass of jiter (the Rust parser pydantic uses) with duplicate
detection on, about 2 µs for a typical event. Only a record with a duplicate
takes the slow path (pure Python, about 0.1 s per MiB) that finds where it is.
jiter stops at 200 levels of nesting; no valid event nests that deep (its
attributes stop at 32), so such a document is reported `TooDeep` rather than
walked: validation refuses it anyway, and a hostile 4 MiB body cannot buy
the slow path with one deep item.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Final

import jiter

from services.intake.domain.problems import Loc, json_path

# A string, or one of the punctuation marks that give a document its shape;
# numbers and literals between them do not matter here.
_TOKEN: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')
_ROOT: Final = "(record)"
_TOO_DEEP_FOR_JITER: Final = "recursion limit exceeded"


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    path: str  # the second occurrence, e.g. identity.customer_id or [2].channel
    key: str


@dataclass(frozen=True, slots=True)
class TooDeep:
    """Nested deeper than jiter reads (200 levels): not checked, and never a valid event."""


def first_duplicate_key(document: bytes, within: Loc = ()) -> DuplicateKey | TooDeep | None:
    """The first key named twice in one object of `document`, or None.

    `document` must be JSON that orjson accepted (the caller parsed it);
    `within` is where it sits in a larger document, for the path.
    """
    try:
        jiter.from_json(document, catch_duplicate_keys=True, cache_mode="none")
    except ValueError as error:
        if str(error).startswith(_TOO_DEEP_FOR_JITER):
            return TooDeep()
        # A duplicate, or (unexpectedly) JSON jiter refuses and orjson does
        # not: either way the walk below decides.
        return _locate(document.decode("utf-8"), within)
    return None


@dataclass(slots=True)
class _Container:
    is_object: bool
    index: int = 0  # arrays: the current item
    key: str | None = None  # objects: the current member
    keys: set[str] = field(default_factory=set)
    expects_key: bool = True


def _locate(text: str, within: Loc) -> DuplicateKey | None:
    """Walks the document once, iteratively, so any depth orjson accepts is fine."""
    stack: list[_Container] = []
    for match in _TOKEN.finditer(text):
        token = match[0]
        if token in ("{", "["):
            stack.append(_Container(is_object=token == "{"))
        elif token in ("}", "]"):
            stack.pop()
        elif token == ",":
            top = stack[-1]
            top.index += 1
            top.expects_key = top.is_object
        elif stack and stack[-1].is_object and stack[-1].expects_key:
            top = stack[-1]
            key = json.loads(token)
            top.expects_key = False
            top.key = key
            if key in top.keys:
                return DuplicateKey(json_path(within + _loc(stack)) or _ROOT, key)
            top.keys.add(key)
    return None


def _loc(stack: list[_Container]) -> Loc:
    return tuple(
        container.key if container.is_object and container.key is not None else container.index
        for container in stack
    )
