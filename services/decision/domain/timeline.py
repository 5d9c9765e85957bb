"""A customer's timeline: the events their context keeps, merged with the
decisions their timeline index keeps and the suppressions those started or
lifted, newest first. Pure: the service loads the two, calls, answers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from libs.context.model import CustomerContext
from libs.contract.decision_log import decision_channel
from libs.contract.suppression import SuppressionEvent

# Within one decision: the decision, then what it started or lifted.
_RANK = {"decision": 0, "suppression": 1, "event": 2}


class Page(NamedTuple):
    entries: list[dict[str, Any]]
    total: int
    next_offset: int | None


def decisions_of(indexed: Iterable[bytes]) -> list[dict[str, Any]]:
    """The indexed `decision-log/v1` records, once per decision id, oldest first."""
    seen: set[str] = set()
    decisions = []
    for raw in indexed:
        record = orjson.loads(raw)
        if record["decision_id"] not in seen:
            seen.add(record["decision_id"])
            decisions.append(record)
    return decisions


def on_channel(decisions: Sequence[dict[str, Any]], channel: str | None) -> list[dict[str, Any]]:
    """The decisions a caller bound to ``channel`` may see (all when None)."""
    if channel is None:
        return list(decisions)
    return [record for record in decisions if decision_channel(record) == channel]


def timeline(
    context: CustomerContext | None, decisions: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every entry, newest first; decisions made at one instant in the order they
    were made, each followed by the suppressions it started or lifted."""
    entries: list[tuple[datetime, int, int, dict[str, Any]]] = []
    if context is not None:
        for channel, interactions in context.recent.items():
            for item in interactions:
                event = {
                    "event_id": item.event_id,
                    "type": item.type,
                    "channel": channel,
                    "attributes": dict(item.attributes),
                }
                entry = _entry(item.at, "event", event=event)
                entries.append((item.at, -1, _RANK["event"], entry))
    for made, record in enumerate(decisions):
        at = datetime.fromisoformat(record["decided_at"])
        entries.append((at, made, _RANK["decision"], _entry(at, "decision", decision=record)))
        for suppression in record["suppressions"]:
            entry = _entry(
                at, "suppression", suppression=suppression, decision_id=record["decision_id"]
            )
            entries.append((at, made, _RANK["suppression"], entry))
    entries.sort(key=lambda item: (-item[0].timestamp(), -item[1], item[2]))
    return [entry for _, _, _, entry in entries]


def _entry(at: datetime, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "at": at,
        "kind": kind,
        "event": fields.get("event"),
        "decision": fields.get("decision"),
        "suppression": fields.get("suppression"),
        "decision_id": fields.get("decision_id"),
    }


def page(entries: Sequence[dict[str, Any]], offset: int, limit: int) -> Page:
    end = offset + limit
    return Page(list(entries[offset:end]), len(entries), end if end < len(entries) else None)


def find_decision(decisions: Iterable[dict[str, Any]], decision_id: str) -> dict[str, Any] | None:
    return next((record for record in decisions if record["decision_id"] == decision_id), None)


def in_force_now(suppressions: Iterable[SuppressionEvent], now: datetime) -> list[SuppressionEvent]:
    """Those still in force: the stored set is as of its last change, and an
    ``until`` may have passed since."""
    return [suppression for suppression in suppressions if suppression.in_force(now)]
