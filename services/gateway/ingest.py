"""What to do with a `POST /v1/events` body: refuse it whole, or judge each item.

Pure and synchronous. Items are judged by intake's own `validate_record`, so a
sender gets the same error codes from the gateway as from the DLQ; the gateway
forwards each accepted item's original bytes and leaves hashing to intake.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import orjson

from libs.common.topics import TopicNames
from libs.contract.common import Channel
from libs.contract.dlq import SourceRef
from libs.contract.interaction import Identity
from services.gateway.auth import Principal
from services.gateway.json_items import split_array
from services.intake.domain.dead_letter import scrub_text
from services.intake.domain.duplicates import DuplicateKey, TooDeep, first_duplicate_key
from services.intake.domain.problems import short_path
from services.intake.domain.validate import Accepted, validate_record

JSON_MEDIA_TYPE: Final = "application/json"
_MAX_ECHOED_ID: Final = 128
# Strongest first. Phone and e-mail are never keys: they would put raw
# personal data on the topic outside the value intake redacts.
_KEY_IDENTIFIERS: Final = ("customer_id", "loyalty_id", "device_id", "anonymous_id")
_CHANNELS: Final = frozenset(channel.value for channel in Channel)


@dataclass(frozen=True, slots=True)
class IngestLimits:
    max_batch: int = 500
    max_event_bytes: int = 32 * 1024
    max_future: timedelta = timedelta(minutes=5)
    # validate_record hashes PII in what it accepts; the gateway discards that
    # copy and forwards the original, so any key serves, and a random one
    # keeps the discarded hashes meaningless.
    throwaway_pii_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)


def content_type_problem(content_type: str | None) -> str | None:
    """Why a Content-Type is refused (415), or None for JSON in UTF-8."""
    if not content_type:
        return "Content-Type must be application/json"
    media_type, *params = (part.strip() for part in content_type.split(";"))
    if media_type.lower() != JSON_MEDIA_TYPE:
        return f"Content-Type must be application/json, not {media_type[:64]!r}"
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return "JSON must be encoded as UTF-8"
    return None


@dataclass(frozen=True, slots=True)
class Body:
    """A body that is one event or a batch: each item's bytes and parsed value."""

    items: list[bytes]
    values: list[Any]
    batch: bool


@dataclass(frozen=True, slots=True)
class BodyProblem:
    message: str
    path: str | None = None  # where in the body, when one place is at fault


def parse_body(body: bytes, max_batch: int) -> Body | BodyProblem:
    """The items of a body, or why the body as a whole is refused (400)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return BodyProblem(f"The body is not valid JSON in UTF-8: {error}")
    if isinstance(document, dict):
        parsed = Body([body.strip(b" \t\r\n")], [document], batch=False)
    elif not isinstance(document, list):
        return BodyProblem("The body must be one event (a JSON object) or a JSON array of events")
    elif not document:
        return BodyProblem("The batch is empty: send at least one event")
    elif len(document) > max_batch:
        return BodyProblem(
            f"The batch has {len(document)} events; at most {max_batch} are accepted"
        )
    else:
        items = split_array(body)
        if len(items) != len(document):  # a scanner bug must not misattribute bytes
            raise AssertionError("split_array disagrees with the parser")
        parsed = Body(items, document, batch=True)
    duplicate = _first_duplicate(body, parsed)
    if duplicate is None:
        return parsed
    # Refused whole, like JSON that does not parse: what the body means
    # depends on the reader's parser (intake would dead-letter the item).
    # Key names are the sender's: masked like intake's DLQ paths.
    path = scrub_text(duplicate.path)
    return BodyProblem(
        f"{short_path(path)}: an object names this key twice; JSON parsers disagree on "
        "which value counts, so the body is refused",
        path,
    )


def _first_duplicate(body: bytes, parsed: Body) -> DuplicateKey | None:
    found = first_duplicate_key(body)
    if isinstance(found, TooDeep) and parsed.batch:
        # One item nests too deep to check (and will be refused): check the
        # others one by one, so it cannot hide a duplicate elsewhere.
        for index, item in enumerate(parsed.items):
            found = first_duplicate_key(item, within=(index,))
            if isinstance(found, DuplicateKey):
                return found
    return found if isinstance(found, DuplicateKey) else None


def declared_channel(value: Any) -> Channel | None:
    channel = value.get("channel") if isinstance(value, dict) else None
    if isinstance(channel, str) and channel in _CHANNELS:
        return Channel(channel)
    return None


def foreign_items(principal: Principal, body: Body) -> list[tuple[int, Channel]]:
    """(index, channel) of items a channel-bound key may not send (403).

    Only a valid channel other than the key's counts; a missing or invalid
    channel is the item's own schema_violation.
    """
    if principal.channel is None:
        return []
    foreign = []
    for index, value in enumerate(body.values):
        channel = declared_channel(value)
        if channel is not None and channel != principal.channel:
            foreign.append((index, channel))
    return foreign


@dataclass(frozen=True, slots=True)
class Admitted:
    """An item to produce, exactly as it was sent."""

    index: int
    event_id: str
    topic: str
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    index: int
    event_id: str | None
    code: str
    message: str
    path: str | None


Verdict = Admitted | Refused


def kafka_key(identity: Identity) -> bytes | None:
    for name in _KEY_IDENTIFIERS:
        value = getattr(identity, name)
        if value is not None:
            return str(value).encode("utf-8")
    return None


def echoed_event_id(value: Any) -> str | None:
    event_id = value.get("event_id") if isinstance(value, dict) else None
    if isinstance(event_id, str) and 0 < len(event_id) <= _MAX_ECHOED_ID:
        return event_id
    return None


def judge_items(
    body: Body,
    *,
    fallback_channel: Channel,
    names: TopicNames,
    limits: IngestLimits,
    now: datetime,
) -> list[Verdict]:
    """One verdict per item, in order.

    Each item is judged as if read from its own channel's topic, so
    `channel_mismatch` cannot arise here (a key's channel is checked before,
    as authorisation). `fallback_channel` stands in for an item without a
    valid channel, which fails on that field before the topic matters.
    """
    verdicts: list[Verdict] = []
    for index, (item, value) in enumerate(zip(body.items, body.values, strict=True)):
        channel = declared_channel(value) or fallback_channel
        topic = names.interactions(channel)
        verdict = validate_record(
            item,
            topic_channel=channel,
            source=SourceRef(topic=topic, partition=0, offset=0),
            now=now,
            pii_key=limits.throwaway_pii_key,
            max_bytes=limits.max_event_bytes,
            max_future=limits.max_future,
        )
        if isinstance(verdict, Accepted):
            event = verdict.event
            verdicts.append(Admitted(index, event.event_id, topic, kafka_key(event.identity), item))
        else:
            error = verdict.dead_letter.error
            verdicts.append(
                Refused(index, echoed_event_id(value), error.code.value, error.message, error.path)
            )
    return verdicts


ItemStatus = Literal["accepted", "rejected", "failed"]


@dataclass(frozen=True, slots=True)
class Written:
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class NotWritten:
    reason: str


def item_results(
    verdicts: Sequence[Verdict], writes: dict[int, Written | NotWritten]
) -> list[dict[str, Any]]:
    """The per-item body of a 202, 422 or 503, in the items' order."""
    results: list[dict[str, Any]] = []
    for verdict in verdicts:
        result: dict[str, Any] = {"index": verdict.index, "event_id": verdict.event_id}
        if isinstance(verdict, Refused):
            result["status"] = "rejected"
            result["error"] = {
                "code": verdict.code,
                "message": verdict.message,
                "path": verdict.path,
            }
        else:
            write = writes[verdict.index]
            if isinstance(write, Written):
                result.update(status="accepted", partition=write.partition, offset=write.offset)
            else:
                result["status"] = "failed"
                result["error"] = {"code": "unavailable", "message": write.reason, "path": None}
        results.append(result)
    return results
