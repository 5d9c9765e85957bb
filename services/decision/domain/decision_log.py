"""One `decision-log/v1` record per decision, from its explanation; and the
bounded per-customer index of recent ones the timeline is served from (the
records themselves kept one per key beside it).

Pure: the handler seals the record with the customer's key and stores the
index. The record is built as a dict and encoded by orjson (a few µs, against
a model validation's tens): ``libs.contract.decision_log.DecisionLogRecord``
is its schema, and the unit tests parse every record they build with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from libs.contract.action import ActionEvent
from libs.contract.decision_log import DECISION_LOG_SCHEMA
from libs.contract.interaction import InteractionEvent
from libs.contract.suppression import SuppressionEvent
from services.decision.domain.explain import CandidateOutcome, Explanation

# Decision ids in an index are "dec-" and hex.
_SEPARATOR = b"\n"
_KEY_SEPARATOR = "\x1f"


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
        # As ``Explanation.to_dict`` has them (the gateway's shape), each made once.
        "candidates": [_candidate_json(item) for item in explanation.candidates],
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
        "notes": list(explanation.notes),
        "timings": {
            "received_at": received_at,
            "event_to_decision_ms": None
            if received_at is None
            else max(0.0, (now - received_at).total_seconds() * 1000),
            "decide_us": round(decide_us, 1),
        },
    }
    return orjson.dumps(body)


@lru_cache(maxsize=8192)
def _candidate_json(candidate: CandidateOutcome) -> orjson.Fragment:
    """A candidate's JSON, made once. Most candidates are exclusions that read
    the same for every customer (no consent on this channel, not eligible), and
    building, encoding and freeing two dicts for each of a decision's candidates
    (12 on average in the drain's journeys) was a quarter of the record's cost."""
    return orjson.Fragment(orjson.dumps(candidate.to_dict()))


class IndexUpdate(NamedTuple):
    """A customer's index after a decision: its new value, whether the decision is
    new to it, and the ids it no longer keeps (their records go)."""

    value: bytes
    added: bool
    evicted: list[str]


def record_key(customer_id: str, decision_id: str) -> str:
    """Where the timeline table keeps one decision's record, beside the customer's
    index (under the customer id itself). Customer ids hold no control character
    (docs/contract/interaction.md), so the two kinds of key never meet."""
    return f"{customer_id}{_KEY_SEPARATOR}{decision_id}"


def index_after(index: bytes | None, decision_id: str, keep: int) -> IndexUpdate:
    """The customer's index of recent decision ids, oldest first, with
    ``decision_id`` appended and the oldest dropped past ``keep``; unchanged if it
    holds ``decision_id`` already (the decision of a redelivered event).

    The index is ids only (~30 bytes each) and each record is stored once under
    its own key: a decision writes ~2 KB, where rewriting the customer's last 20
    records (~33 KB) on each would multiply the stage's changelog traffic."""
    # On the index's bytes: split and join in C, and only an evicted id decoded
    # (a decode and an encode per kept id cost 5-15 µs a decision here).
    added = decision_id.encode()
    if not index:
        return IndexUpdate(added, True, [])
    kept = index.split(_SEPARATOR)
    if added in kept:
        return IndexUpdate(index, False, [])
    surplus = len(kept) + 1 - keep
    if surplus <= 0:
        return IndexUpdate(index + _SEPARATOR + added, True, [])
    evicted = [item.decode() for item in kept[:surplus]]
    kept = kept[surplus:]
    kept.append(added)
    return IndexUpdate(_SEPARATOR.join(kept), True, evicted)


def indexed_ids(index: bytes | None) -> list[str]:
    """The decision ids of an index, oldest first."""
    return index.decode().split("\n") if index else []


def indexed_records(get: Callable[[str], bytes | None], customer_id: str) -> list[bytes]:
    """The customer's kept records, oldest first, read with ``get`` (a table's)."""
    found = (get(record_key(customer_id, item)) for item in indexed_ids(get(customer_id)))
    return [raw for raw in found if raw is not None]
