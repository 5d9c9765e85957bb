"""Dead-letter records that keep the evidence but not the personal data.

The contract wants the original bytes in the DLQ, and also that raw phone
numbers and e-mail addresses are never stored or emitted. The second promise
wins: the identity fields of a parsed record are masked in place (the rest of
the bytes stay as received), and anything phone- or e-mail-shaped is masked in
records that could not be parsed. Oversized values are cut to a prefix so a
DLQ record can never exceed what the broker accepts.
"""

import base64
import re
from datetime import datetime
from typing import Any, Final

import orjson

from libs.contract.dlq import DeadLetter, ErrorCode, ErrorInfo, SourceRef

_MASK: Final = b"[redacted]"
_MASKED_STRING: Final = b'"[redacted]"'
# Deliberately loose: a masked non-address costs nothing, a leaked one does.
# The domain may be cut short by truncation. The lookbehind starts a match only
# at the beginning of a run of name characters: without it a long run with no
# "@" costs quadratic time, and a sender could stall intake with 32 KiB of "x".
_EMAIL_LIKE: Final = re.compile(rb"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]*")
_PHONE_LIKE: Final = re.compile(rb"\+[1-9][0-9 ().\-]{5,20}[0-9]")
_RAW_IDENTIFIERS: Final = ("phone", "email")


def dead_letter(
    code: ErrorCode,
    message: str,
    path: str | None,
    *,
    value: bytes | None,
    source: SourceRef,
    now: datetime,
    max_original_bytes: int,
    parsed: object = None,
    reencode: bool = False,
) -> DeadLetter:
    """`parsed` is the decoded JSON when there was one: it locates identity fields exactly.

    `reencode`: the bytes may hold identity values `parsed` does not show (a
    key named twice), so keep `parsed` re-encoded without them instead.
    """
    original: str | None = None
    size = 0
    truncated = redacted = False
    if value is not None:
        size = len(value)
        kept = bytes(value[:max_original_bytes])
        truncated = size > max_original_bytes
        clean = scrub(kept, None if truncated else parsed, reencode=reencode and not truncated)
        redacted = clean != kept
        original = base64.b64encode(clean).decode("ascii")
    # Paths and messages quote sender-chosen keys and values, which may be PII too.
    if path is not None:
        path = scrub_text(path)
    return DeadLetter(
        error=ErrorInfo(code=code, message=scrub_text(message), path=path),
        original=original,
        original_size=size,
        original_truncated=truncated,
        original_redacted=redacted,
        source=source,
        rejected_at=now,
    )


def scrub(raw: bytes, parsed: object = None, *, reencode: bool = False) -> bytes:
    """`raw` with personal identifiers masked; unchanged bytes when there are none."""
    clean = raw
    rewrite = reencode
    for found in _identity_values(parsed):
        needle = orjson.dumps(found) if isinstance(found, str) else b""
        if needle and needle in clean:
            clean = clean.replace(needle, _MASKED_STRING)
        else:
            # Escaped, or not a string: the value cannot be found as written,
            # so the record is re-encoded without it.
            rewrite = True
    if rewrite and isinstance(parsed, dict):
        clean = orjson.dumps(_without_identity_values(parsed))
    clean = _EMAIL_LIKE.sub(_MASK, clean)
    return _PHONE_LIKE.sub(_MASK, clean)


def scrub_text(text: str) -> str:
    return scrub(text.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")


def _identity_values(parsed: object) -> list[object]:
    identity = parsed.get("identity") if isinstance(parsed, dict) else None
    if not isinstance(identity, dict):
        return []
    return [identity[key] for key in _RAW_IDENTIFIERS if identity.get(key) not in (None, "")]


def _without_identity_values(parsed: dict[str, Any]) -> dict[str, Any]:
    identity = dict(parsed["identity"])
    for key in _RAW_IDENTIFIERS:
        if identity.get(key) not in (None, ""):
            identity[key] = _MASK.decode()
    return {**parsed, "identity": identity}
