"""Interaction events as channel systems send them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def interaction(
    event_type: str,
    channel: str,
    identity: dict[str, str],
    attributes: dict[str, Any] | None = None,
    *,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "schema": "interaction/v1",
        "event_id": event_id or f"evt-{uuid.uuid4().hex}",
        "type": event_type,
        "channel": channel,
        "occurred_at": (occurred_at or datetime.now(UTC)).isoformat(),
        "identity": identity,
        "attributes": attributes or {},
    }


def in_the_future(minutes: int) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)
