"""`decision-log/v1`: one record per decision, on the internal decision log topic.

Every event stage 2 decides leaves one, including those that sent nothing, so
that "why (not)?" can be answered after the fact: by an agent in the console,
by an auditor, by the customer. The record quotes codes and sentences the
decision produced and the ids involved, never an event's attributes: no raw
PII (customer ids are Concierge's pseudonymous ids).

On the topic the record is sealed with the customer's own key (AES-GCM,
``libs/pipeline/decision_log.py``); erasure deletes the key, which leaves the
customer's records unreadable until retention deletes them.
"""

from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import Field

from libs.contract.common import (
    ContractModel,
    Identifier,
    NonNegativeNumber,
    Number,
    Text,
    Timestamp,
    Trigger,
)
from libs.contract.suppression import SuppressionReason, SuppressionState

DECISION_LOG_SCHEMA: Final = "decision-log/v1"


class RuledOut(ContractModel):
    code: Identifier = Field(
        description="Why the candidate was left out: no_consent, open_complaint, "
        "frequency_cap, cooldown, low_score, ... (docs/decisioning.md lists every code)."
    )
    detail: Text = Field(description="Why, for people.")


class ConsideredCandidate(ContractModel):
    action_id: Identifier
    score: Number | None = Field(
        description="Its score when it was eligible; null when it was ruled out before scoring."
    )
    excluded: RuledOut | None = Field(
        description="Why it was ruled out; null for the winner and for eligible candidates "
        "that lost on score (their score is below the winner's)."
    )


class LoggedWinner(ContractModel):
    action_id: Identifier
    score: Number
    channel: Identifier = Field(description="Where the action was sent.")


class LoggedSuppression(ContractModel):
    """A suppression this decision started or lifted (the full event is on `suppressions`)."""

    suppression_id: Identifier
    state: SuppressionState
    reason: SuppressionReason
    detail: Text
    until: Timestamp | None


class DecisionTimings(ContractModel):
    received_at: Timestamp | None = Field(
        description="When intake received the triggering event; null if it was not stamped."
    )
    event_to_decision_ms: NonNegativeNumber | None = Field(
        description="From intake receiving the event to this decision."
    )
    decide_us: NonNegativeNumber = Field(
        description="Microseconds the handler took for the event: context update and rules."
    )


class DecisionLogRecord(ContractModel):
    schema_: Literal["decision-log/v1"] = Field(default=DECISION_LOG_SCHEMA, alias="schema")
    decision_id: Identifier = Field(description="The `decision_id` of the action, if one was sent.")
    customer_id: Identifier
    outcome: Literal["action", "no_action"]
    trigger: Trigger
    decided_at: Timestamp
    policy_version: Identifier
    winner: LoggedWinner | None = Field(description="The action sent; null when none was.")
    candidates: tuple[ConsideredCandidate, ...] = Field(
        description="Every catalogue action that answers the event on its channel, in "
        "catalogue order, with its score or why it was ruled out."
    )
    suppressions: tuple[LoggedSuppression, ...] = Field(
        description="Suppressions this decision started or lifted."
    )
    notes: tuple[Text, ...] = Field(
        description="Anything else the decision said, e.g. that no catalogue action answers "
        "the event on its channel."
    )
    timings: DecisionTimings


def decision_channel(record: Mapping[str, Any]) -> str:
    """The channel a logged decision (a `decision-log/v1` record as JSON) belongs
    to: its action's, or, when it sent none, its trigger's. A key bound to a
    channel sees only that channel's decisions (the gateway and the decision
    worker's timeline both ask this)."""
    winner = record.get("winner") or {}
    return str(winner.get("channel") or record["trigger"]["channel"])
