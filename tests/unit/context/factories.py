"""Building contract-valid interaction events for tests, tersely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from libs.context import CustomerContext, apply_event
from libs.contract.interaction import InteractionEvent

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
_ids = count()


def event(
    type_: str,
    *,
    at: datetime | timedelta = timedelta(0),
    on: str = "web",
    event_id: str | None = None,
    identity: dict[str, str] | None = None,
    session_id: str | None = None,
    **attributes: Any,
) -> InteractionEvent:
    """An event validated by the contract model.

    ``at`` is a time or an offset from ``T0``; ``on`` is the event's channel
    (``channel`` stays free for the consent attribute).
    """
    occurred_at = T0 + at if isinstance(at, timedelta) else at
    record: dict[str, Any] = {
        "schema": "interaction/v1",
        "event_id": event_id or f"evt-{next(_ids)}",
        "type": type_,
        "channel": on,
        "occurred_at": occurred_at.isoformat(),
        "identity": identity or {"anonymous_id": "anon-1"},
        "attributes": attributes,
    }
    if session_id is not None:
        record["session_id"] = session_id
    return InteractionEvent.model_validate(record)


def apply_all(
    events: list[InteractionEvent],
    *,
    customer_id: str = "C",
    provisional: bool = False,
    now: datetime | None = None,
    start: CustomerContext | None = None,
) -> CustomerContext:
    """Apply ``events`` in order; ``now`` defaults to each event's own time."""
    ctx = start
    for item in events:
        ctx = apply_event(ctx, item, customer_id, provisional, now or item.occurred_at)
    assert ctx is not None, "apply_all needs at least one event"
    return ctx
