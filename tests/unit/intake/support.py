"""Shared helpers for intake's unit tests."""

from datetime import UTC, datetime
from typing import Any

import orjson

from libs.contract.common import Channel
from libs.contract.dlq import SourceRef
from services.intake.domain.validate import Accepted, Rejected, validate_record

NOW = datetime(2025, 5, 1, 12, 1, tzinfo=UTC)
KEY = b"unit-test-key-0123456789abcdef"


def source(channel: Channel = Channel.web) -> SourceRef:
    return SourceRef(topic=f"interactions.{channel}", partition=2, offset=99)


def judge(
    record: dict[str, Any] | bytes | None,
    topic: Channel = Channel.web,
    **options: Any,
) -> Accepted | Rejected:
    value = orjson.dumps(record) if isinstance(record, dict) else record
    return validate_record(
        value, topic_channel=topic, source=source(topic), now=NOW, pii_key=KEY, **options
    )


def accepted(record: dict[str, Any] | bytes, topic: Channel = Channel.web) -> Accepted:
    outcome = judge(record, topic)
    assert isinstance(outcome, Accepted), outcome
    return outcome


def rejected(record: dict[str, Any] | bytes | None, topic: Channel = Channel.web) -> Rejected:
    outcome = judge(record, topic)
    assert isinstance(outcome, Rejected), outcome
    return outcome
