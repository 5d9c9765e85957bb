"""What makes one output an emission of its own, so it is sent once.

A decision redelivered after a crash is decided again with the same ids. Its
outputs may already be in Kafka (delivered just before the crash, before the
contact history recording them was). The decision service reads back what it
sent and skips an output whose emission it finds, on the key below: an action
by its ``decision_id`` (one action per decision), a suppression by its id,
state and the event that triggered it (a suppression starts and lifts once each,
but a repeated start from another event is a new emission).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from libs.contract.action import ACTION_SCHEMA, ActionEvent
from libs.contract.suppression import SUPPRESSION_SCHEMA, SuppressionEvent


def action_emission(action: ActionEvent) -> str:
    return f"action {action.decision_id}"


def suppression_emission(suppression: SuppressionEvent) -> str:
    return (
        f"suppression {suppression.suppression_id} {suppression.state} "
        f"{suppression.trigger.event_id}"
    )


def emission_of_output(body: Mapping[str, Any]) -> str | None:
    """The emission key of an output as read from ``actions.*`` or ``suppressions``;
    None for a record that is neither (not Concierge's to skip)."""
    try:
        if body.get("schema") == ACTION_SCHEMA:
            return f"action {body['decision_id']}"
        if body.get("schema") == SUPPRESSION_SCHEMA:
            trigger = body["trigger"]["event_id"]
            return f"suppression {body['suppression_id']} {body['state']} {trigger}"
    except (KeyError, TypeError):
        return None
    return None


def emissions_in(values: Iterable[bytes | None]) -> set[str]:
    """The emission keys of raw output records; records that are not JSON objects
    or not outputs are ignored."""
    found: set[str] = set()
    for value in values:
        try:
            body = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            continue
        key = emission_of_output(body) if isinstance(body, dict) else None
        if key is not None:
            found.add(key)
    return found
