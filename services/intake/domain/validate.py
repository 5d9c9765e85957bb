"""Judge one record from `interactions.<channel>`: accept it normalised, or dead-letter it.

Checks run cheapest and most fundamental first, and the first failure decides
the code: empty, too large (before any parsing), encoding, JSON, duplicate
keys, object, schema, type, envelope fields, attributes, identity, channel,
type on channel, clock. The record is parsed once (orjson), scanned once for
duplicate keys (jiter) and validated once (pydantic).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import orjson
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from libs.contract.common import Channel
from libs.contract.dlq import DeadLetter, ErrorCode, SourceRef
from libs.contract.interaction import InteractionEvent
from libs.contract.vocabulary import allowed_channels, attributes_model
from services.intake.domain.dead_letter import dead_letter
from services.intake.domain.duplicates import DuplicateKey, first_duplicate_key
from services.intake.domain.pii import PiiKey
from services.intake.domain.problems import Loc, describe, short_path

DEFAULT_MAX_BYTES: Final = 32 * 1024
DEFAULT_MAX_FUTURE: Final = timedelta(minutes=5)
# Enough of an oversized record to see what it is, small enough that its DLQ
# record stays far below the broker's default 1 MiB message limit.
DEFAULT_MAX_ORIGINAL_BYTES: Final = 64 * 1024

# When one record breaks several envelope rules, the most fundamental is
# reported: a v2 record is not "missing a field" of v1.
_ENVELOPE_PRECEDENCE: Final = (
    ErrorCode.unsupported_schema,
    ErrorCode.unknown_type,
    ErrorCode.schema_violation,
    ErrorCode.missing_identity,
)
_CUSTOM_ERROR_CODES: Final = {
    "unsupported_schema": ErrorCode.unsupported_schema,
    "unknown_type": ErrorCode.unknown_type,
    "missing_identity": ErrorCode.missing_identity,
}
_IDENTITY_LOC: Final[Loc] = ("identity",)
_ATTRIBUTES_LOC: Final[Loc] = ("attributes",)


_NO_HASHES: Final[Mapping[str, str]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Accepted:
    """Phone and e-mail replaced by their hashes; `received_at` set.

    ``previous_hashes``: during a key rotation, the same identifiers hashed with
    the previous key (``{"phone_hash": ..., "email_hash": ...}``), for identity
    to find links made before the rotation. Never emitted.
    """

    event: InteractionEvent
    previous_hashes: Mapping[str, str] = field(default_factory=lambda: _NO_HASHES)


@dataclass(frozen=True, slots=True)
class _Keys:
    current: PiiKey
    previous: PiiKey | None


@lru_cache(maxsize=8)
def _keys(pii_key: bytes, pii_key_id: str, previous: PiiKey | None) -> _Keys:
    """Checked once per key, not per record (PiiKey checks the length and the id)."""
    return _Keys(PiiKey(pii_key, pii_key_id), previous)


@dataclass(frozen=True, slots=True)
class Rejected:
    dead_letter: DeadLetter

    @property
    def code(self) -> ErrorCode:
        return self.dead_letter.error.code


@dataclass(frozen=True, slots=True)
class _Reject:
    """Builds the dead letter for the record being judged."""

    value: bytes | None
    source: SourceRef
    now: datetime
    max_original_bytes: int

    def __call__(
        self,
        code: ErrorCode,
        message: str,
        path: str | None,
        parsed: object = None,
        *,
        reencode: bool = False,
    ) -> Rejected:
        letter = dead_letter(
            code,
            message,
            path,
            value=self.value,
            source=self.source,
            now=self.now,
            max_original_bytes=self.max_original_bytes,
            parsed=parsed,
            reencode=reencode,
        )
        return Rejected(letter)


def validate_record(
    value: bytes | None,
    *,
    topic_channel: Channel,
    source: SourceRef,
    now: datetime,
    pii_key: bytes,
    pii_key_id: str = "",
    previous_pii_key: PiiKey | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES,
) -> Accepted | Rejected:
    """Never raises for any `value`; raises ValueError only for a caller's mistake
    (naive `now`, short key, malformed key id)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    keys = _keys(pii_key, pii_key_id, previous_pii_key)
    reject = _Reject(value, source, now, max_original_bytes)
    try:
        return _judge(value, topic_channel, source, now, keys, max_bytes, max_future, reject)
    except Exception as exc:
        # Faust acks a message whose handler raised: a bug here must not lose
        # the record, so it is dead-lettered for replay once fixed.
        message = f"Concierge could not judge this record ({type(exc).__name__})"
        return reject(ErrorCode.internal_error, message, None)


def _judge(
    value: bytes | None,
    topic_channel: Channel,
    source: SourceRef,
    now: datetime,
    keys: _Keys,
    max_bytes: int,
    max_future: timedelta,
    reject: _Reject,
) -> Accepted | Rejected:
    if not value:
        return reject(ErrorCode.empty_record, "The record has no value (null or empty)", None)
    if len(value) > max_bytes:
        message = f"The record is {len(value)} bytes; at most {max_bytes} are accepted"
        return reject(ErrorCode.too_large, message, None)
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        if not _is_utf8(value):
            return reject(ErrorCode.invalid_encoding, "The record is not valid UTF-8", None)
        return reject(ErrorCode.invalid_json, f"The record is not valid JSON: {exc}", None)
    duplicate = first_duplicate_key(value)
    if isinstance(duplicate, DuplicateKey):
        message = (
            f"{short_path(duplicate.path)}: an object names this key twice; JSON parsers "
            "disagree on which value counts"
        )
        # The parsed record holds only the last of the two values: a raw phone
        # or e-mail in the first could not be located in the bytes, so a
        # duplicate inside identity is kept re-encoded, without them.
        in_identity = duplicate.path == "identity" or duplicate.path.startswith(
            ("identity.", "identity[")
        )
        return reject(
            ErrorCode.duplicate_key, message, duplicate.path, parsed=data, reencode=in_identity
        )
    if not isinstance(data, dict):
        message = f"The record must be a JSON object, not {_json_kind(data)}"
        return reject(ErrorCode.schema_violation, message, None)

    try:
        event = InteractionEvent.from_sender(data)
    except ValidationError as exc:
        return _envelope_rejection(exc, data, reject)
    attribute_errors = _attribute_errors(event.type, event.attributes)
    if attribute_errors:
        path, message = describe(attribute_errors, _ATTRIBUTES_LOC)
        return reject(ErrorCode.schema_violation, message, path, parsed=data)

    if event.channel != topic_channel:
        message = (
            f"channel is '{event.channel}' but topic {source.topic} carries "
            f"'{topic_channel}' events"
        )
        return reject(ErrorCode.channel_mismatch, message, "channel", parsed=data)
    allowed = allowed_channels(event.type)
    if event.channel not in allowed:
        message = (
            f"'{event.type}' events may come only from "
            f"{', '.join(sorted(allowed))}, not from '{event.channel}'"
        )
        return reject(ErrorCode.type_not_allowed_on_channel, message, "type", parsed=data)
    ahead = event.occurred_at - now
    if ahead > max_future:
        message = (
            f"occurred_at is {ahead.total_seconds():.0f} s ahead of Concierge's clock; "
            f"at most {max_future.total_seconds():.0f} s is tolerated"
        )
        return reject(ErrorCode.future_timestamp, message, "occurred_at", parsed=data)
    return _normalised(event, now, keys)


def _envelope_rejection(exc: ValidationError, data: dict[str, object], reject: _Reject) -> Rejected:
    by_code: dict[ErrorCode, list[ErrorDetails]] = {}
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        by_code.setdefault(_code_of(error, data), []).append(error)
    code = next(code for code in _ENVELOPE_PRECEDENCE if code in by_code)
    if code is ErrorCode.missing_identity:
        # Nothing else is wrong with the envelope, so type and attributes are
        # sound enough to check; bad attributes outrank a missing identity.
        attribute_errors = _attribute_errors(str(data["type"]), data.get("attributes"))
        if attribute_errors:
            path, message = describe(attribute_errors, _ATTRIBUTES_LOC)
            return reject(ErrorCode.schema_violation, message, path, parsed=data)
    path, message = describe(by_code[code])
    return reject(code, message, path, parsed=data)


def _code_of(error: ErrorDetails, data: dict[str, object]) -> ErrorCode:
    custom = _CUSTOM_ERROR_CODES.get(error["type"])
    if custom is not None:
        return custom
    if tuple(error["loc"]) == _IDENTITY_LOC and data.get("identity") is None:
        return ErrorCode.missing_identity
    return ErrorCode.schema_violation


def _attribute_errors(event_type: str, attributes: object) -> list[ErrorDetails]:
    try:
        attributes_model(event_type).model_validate({} if attributes is None else attributes)
    except ValidationError as exc:
        return exc.errors(include_url=False, include_input=False, include_context=False)
    return []


def _normalised(event: InteractionEvent, now: datetime, keys: _Keys) -> Accepted:
    identity = event.identity
    hashed: dict[str, str | None] = {}
    previous: dict[str, str] = {}
    for raw_field, hash_field in (("phone", "phone_hash"), ("email", "email_hash")):
        value = getattr(identity, raw_field)
        if value is None:
            continue
        hashed.update({raw_field: None, hash_field: keys.current.hash(value)})
        if keys.previous is not None:
            previous[hash_field] = keys.previous.hash(value)
    if hashed:
        identity = identity.model_copy(update=hashed)
    event = event.model_copy(update={"identity": identity, "received_at": now})
    return Accepted(event, MappingProxyType(previous) if previous else _NO_HASHES)


def _is_utf8(value: bytes) -> bool:
    try:
        bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_kind(data: object) -> str:
    if isinstance(data, list):
        return "an array"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, bool):
        return "a boolean"
    if data is None:
        return "null"
    return "a number"
