"""Emitting and lifting suppressions, keeping the contact history in step.

Every rule that suppresses goes through :func:`activate` and :func:`lift_key`:
the history remembers what is active under a key naming its cause, so the
lift repeats the activation's ``suppression_id`` and a condition that is
already suppressed is not announced twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from libs.contract.common import ActionKind, ContactChannel, Trigger
from libs.contract.suppression import (
    SuppressionEvent,
    SuppressionReason,
    SuppressionScope,
    SuppressionState,
)
from services.decision.domain.history import ActiveSuppression, ContactHistory
from services.decision.domain.history import activate as remember
from services.decision.domain.history import lift as forget

Changes = tuple[ContactHistory, tuple[SuppressionEvent, ...]]
"""What a suppression rule returns: the new history and what to publish."""


def suppression_id(customer_id: str, key: str, trigger_event_id: str) -> str:
    """Deterministic, so a redelivered trigger re-announces the same suppression."""
    digest = hashlib.blake2b(
        f"{customer_id}|{key}|{trigger_event_id}".encode(), digest_size=12
    ).hexdigest()
    return f"sup-{digest}"


def activate(
    history: ContactHistory,
    *,
    key: str,
    reason: SuppressionReason,
    detail: str,
    trigger: Trigger,
    now: datetime,
    until: datetime | None = None,
    channels: Sequence[str] = (),
    kinds: Sequence[str] = (),
    categories: Sequence[str] = (),
    action_ids: Sequence[str] = (),
) -> Changes:
    """Activate a suppression unless one with the same key is already in force."""
    current = history.suppression_for(key)
    if current is not None and current.in_force(now):
        return history, ()
    active = ActiveSuppression(
        suppression_id=suppression_id(history.customer_id, key, trigger.event_id),
        key=key,
        reason=reason.value,
        detail=detail,
        channels=tuple(channels),
        kinds=tuple(kinds),
        categories=tuple(categories),
        action_ids=tuple(action_ids),
        effective_at=now,
        until=until,
    )
    if current is not None:
        history = forget(history, current.suppression_id)
    return remember(history, active), (to_event(active, history.customer_id, trigger),)


def lift_key(
    history: ContactHistory, key: str, *, detail: str, trigger: Trigger, now: datetime
) -> Changes:
    """Lift the suppression under ``key``, if any, with its own id."""
    current = history.suppression_for(key)
    if current is None:
        return history, ()
    lifted = replace(current, detail=detail)
    event = to_event(lifted, history.customer_id, trigger, state=SuppressionState.lifted, at=now)
    return forget(history, current.suppression_id), (event,)


def to_event(
    active: ActiveSuppression,
    customer_id: str,
    trigger: Trigger,
    *,
    state: SuppressionState = SuppressionState.active,
    at: datetime | None = None,
) -> SuppressionEvent:
    lifted = state is SuppressionState.lifted
    return SuppressionEvent(
        suppression_id=active.suppression_id,
        customer_id=customer_id,
        state=state,
        reason=SuppressionReason(active.reason),
        detail=active.detail,
        scope=SuppressionScope(
            channels=tuple(ContactChannel(channel) for channel in active.channels),
            kinds=tuple(ActionKind(kind) for kind in active.kinds),
            categories=active.categories,
            action_ids=active.action_ids,
        ),
        trigger=trigger,
        effective_at=at if lifted and at is not None else active.effective_at,
        until=None if lifted else active.until,
    )
