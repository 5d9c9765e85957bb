"""One `decision-log/v1` record per decision, from its explanation; and the
bounded per-customer index of recent ones the timeline is served from.

Pure: the handler seals the record with the customer's key and stores the
index. The record is built as a dict and encoded by orjson (a few µs, against
a model validation's tens): ``libs.contract.decision_log.DecisionLogRecord``
is its schema, and the unit tests parse every record they build with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from libs.contract.action import ActionEvent
from libs.contract.decision_log import DECISION_LOG_SCHEMA
from libs.contract.interaction import InteractionEvent
from libs.contract.suppression import SuppressionEvent
from services.decision.domain.explain import Explanation

# Records in the index are compact JSON, which never holds a raw newline.
_SEPARATOR = b"\n"


def log_record(
    explanation: Explanation,
    event: InteractionEvent,
    customer_id: str,
    actions: Sequence[ActionEvent],
    suppressions: Sequence[SuppressionEvent],
    now: datetime,
    decide_us: float,
) -> bytes:
    """The plaintext `decision-log/v1` record of one decision."""
    received_at = event.received_at
    explained = explanation.to_dict()  # candidates and notes as the gateway shows them
    winner = None
    if actions:
        action = actions[0]
        winner = {"action_id": action.action.id, "score": action.score, "channel": action.channel}
    body: dict[str, Any] = {
        "schema": DECISION_LOG_SCHEMA,
        "decision_id": explanation.decision_id,
        "customer_id": customer_id,
        "outcome": explanation.outcome,
        "trigger": {"event_id": event.event_id, "type": event.type, "channel": event.channel},
        "decided_at": now,
        "policy_version": explanation.policy_version,
        "winner": winner,
        "candidates": explained["candidates"],
        "suppressions": [
            {
                "suppression_id": item.suppression_id,
                "state": item.state,
                "reason": item.reason,
                "detail": item.detail,
                "until": item.until,
            }
            for item in suppressions
        ],
        "notes": explained["notes"],
        "timings": {
            "received_at": received_at,
            "event_to_decision_ms": None
            if received_at is None
            else max(0.0, (now - received_at).total_seconds() * 1000),
            "decide_us": round(decide_us, 1),
        },
    }
    return orjson.dumps(body)


def index_after(index: bytes | None, decision_id: str, record: bytes, keep: int) -> bytes:
    """The customer's index of recent records with ``record`` appended, oldest
    dropped past ``keep``; unchanged if it holds ``decision_id`` already (the
    decision of a redelivered event). Bytes in, bytes out: nothing is decoded
    or split (an index is tens of KB, rewritten on every decision)."""
    if not index:
        return record
    if b'"decision_id":"%s"' % decision_id.encode() in index:
        return index
    if index.count(_SEPARATOR) + 2 > keep:
        index = index[index.index(_SEPARATOR) + 1 :] if keep > 1 else b""
        if not index:
            return record
    return index + _SEPARATOR + record


def indexed_records(index: bytes | None) -> list[bytes]:
    """The records of an index, oldest first."""
    return index.split(_SEPARATOR) if index else []
