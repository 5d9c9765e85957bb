"""The suppressions in force for one customer, as `suppressions.active` carries them.

`suppressions` is the stream of starts and lifts; a tool deployed later
needs the current set without replaying it. Stage 2 keeps that set per
customer and writes it, whole, to the compacted `suppressions.active`
whenever it changes: the latest record per customer is everything in force
(a tombstone when nothing is). Pure: the handler loads, calls, stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from libs.contract.codec import to_json_bytes
from libs.contract.suppression import SuppressionEvent, SuppressionsInForce, SuppressionState


def in_force_after(
    current: Sequence[SuppressionEvent], emitted: Sequence[SuppressionEvent], now: datetime
) -> tuple[SuppressionEvent, ...]:
    """``current`` with ``emitted`` applied in order (a start adds, a lift with the
    same ``suppression_id`` removes), less those whose ``until`` has passed."""
    by_id = {suppression.suppression_id: suppression for suppression in current}
    for event in emitted:
        if event.state is SuppressionState.active:
            by_id[event.suppression_id] = event
        else:
            by_id.pop(event.suppression_id, None)
    return tuple(s for s in by_id.values() if s.until is None or now < s.until)


def encode_in_force(
    customer_id: str, suppressions: Sequence[SuppressionEvent], now: datetime
) -> bytes | None:
    """The `suppressions.active` value, or None (a tombstone) when nothing is in force."""
    if not suppressions:
        return None
    record = SuppressionsInForce(
        customer_id=customer_id, suppressions=tuple(suppressions), updated_at=now
    )
    return to_json_bytes(record)


def decode_in_force(data: bytes | None) -> tuple[SuppressionEvent, ...]:
    if not data:
        return ()
    return SuppressionsInForce.model_validate_json(data).suppressions
