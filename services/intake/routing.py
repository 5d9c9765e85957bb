"""Judge each input record: an accepted event or erasure request, or a dead letter.

Pure: takes the bytes and where they came from, returns the accepted payload
or the DLQ record to send. Every input record is either accepted or
dead-lettered, so nothing is dropped silently; repeats are dropped after, by
identity's dedupe (services/intake/handler.py), which sees every event_id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from libs.common.topics import TopicNames
from libs.contract.codec import to_json_bytes
from libs.contract.dlq import DeadLetter, ErrorCode, SourceRef
from libs.contract.erasure import ErasureRequest
from services.intake.domain.dead_letter import dead_letter, scrub
from services.intake.domain.pii import PiiKey
from services.intake.domain.validate import (
    DEFAULT_MAX_ORIGINAL_BYTES,
    Accepted,
    validate_record,
)


@dataclass(frozen=True, slots=True)
class Letter:
    """A record for the DLQ: the key as received (scrubbed) and the encoded dead letter."""

    topic: str
    key: bytes | None
    value: bytes
    code: ErrorCode


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    pii_key: bytes
    pii_key_id: str = ""
    # Set during a key rotation window (docs/identity.md, "Rotating the PII key").
    previous_pii_key: PiiKey | None = None
    max_bytes: int = 32 * 1024
    max_future: timedelta = timedelta(minutes=5)


def scrubbed_key(key: bytes | None) -> bytes | None:
    """The key "as received", minus anything phone- or e-mail-shaped (the contract lets
    senders key by any identity string, raw phone numbers included)."""
    return None if key is None else scrub(key)


def scrubbed_letter(value: bytes | None, source: SourceRef, message: str) -> DeadLetter:
    """The dead letter for a record intake failed on: PII masked as for any rejection."""
    return dead_letter(
        ErrorCode.internal_error,
        message,
        None,
        value=value,
        source=source,
        now=datetime.now(UTC),
        max_original_bytes=DEFAULT_MAX_ORIGINAL_BYTES,
    )


def route_interaction(
    value: bytes | None,
    key: bytes | None,
    source: SourceRef,
    names: TopicNames,
    limits: IntakeLimits,
    now: datetime,
) -> Accepted | Letter:
    channel = names.channel_of_interactions_topic(source.topic)
    if channel is None:
        raise ValueError(f"{source.topic} is not an interactions topic")
    verdict = validate_record(
        value,
        topic_channel=channel,
        source=source,
        now=now,
        pii_key=limits.pii_key,
        pii_key_id=limits.pii_key_id,
        previous_pii_key=limits.previous_pii_key,
        max_bytes=limits.max_bytes,
        max_future=limits.max_future,
    )
    if isinstance(verdict, Accepted):
        return verdict
    letter = verdict.dead_letter
    return Letter(names.dlq, scrubbed_key(key), to_json_bytes(letter), letter.error.code)


def _erasure_letter(
    code: ErrorCode,
    message: str,
    path: str | None,
    value: bytes | None,
    key: bytes | None,
    source: SourceRef,
    now: datetime,
    names: TopicNames,
) -> Letter:
    letter = dead_letter(
        code,
        message,
        path,
        value=value,
        source=source,
        now=now,
        max_original_bytes=32 * 1024,
    )
    return Letter(names.dlq, scrubbed_key(key), to_json_bytes(letter), code)


def route_erasure(
    value: bytes | None, key: bytes | None, source: SourceRef, names: TopicNames, now: datetime
) -> ErasureRequest | Letter:
    """A valid erasure request, or its dead letter."""
    if not value:
        return _erasure_letter(
            ErrorCode.empty_record,
            "An erasure request needs a JSON body",
            None,
            value,
            key,
            source,
            now,
            names,
        )
    try:
        request = ErasureRequest.model_validate_json(value, by_alias=True, by_name=False)
    except ValidationError as error:
        first = error.errors()[0]
        code = (
            ErrorCode.invalid_json
            if first["type"] == "json_invalid"
            else ErrorCode.schema_violation
        )
        path = ".".join(str(part) for part in first["loc"]) or None
        return _erasure_letter(code, first["msg"], path, value, key, source, now, names)
    return request
