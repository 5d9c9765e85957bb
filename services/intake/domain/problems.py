"""Turn pydantic validation errors into one path and one message a sender can act on."""

import re
from collections.abc import Sequence

from pydantic_core import ErrorDetails

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_MAX_LISTED = 5
_MAX_PATH_IN_MESSAGE = 120

Loc = tuple[int | str, ...]


def json_path(loc: Loc) -> str | None:
    """('attributes', 'items', 0, 'product_id') -> 'attributes.items[0].product_id'.

    Keys that are not plain names are quoted, as senders' custom keys may hold
    dots or spaces: attributes["utm.source"]. None for the record as a whole.
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return path or None


def describe(errors: Sequence[ErrorDetails], prefix: Loc = ()) -> tuple[str | None, str]:
    """Path of the first problem, and a message naming it and listing the others."""
    paths = [json_path(prefix + tuple(error["loc"])) for error in errors]
    first = errors[0]
    message = f"{short_path(paths[0])}: {first['msg']}" if paths[0] else first["msg"]
    others = [short_path(path) if path else "(record)" for path in paths[1:]]
    if others:
        listed = ", ".join(others[:_MAX_LISTED])
        more = "" if len(others) <= _MAX_LISTED else f" and {len(others) - _MAX_LISTED} more"
        message += f" (also: {listed}{more})"
    return paths[0], message


def short_path(path: str) -> str:
    # Senders choose key names; a 30 KB key must not make a 30 KB message.
    if len(path) <= _MAX_PATH_IN_MESSAGE:
        return path
    return path[: _MAX_PATH_IN_MESSAGE - 1] + "…"
