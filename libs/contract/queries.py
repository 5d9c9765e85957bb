"""Answers of the customer queries the decision service serves and the gateway
passes on: a customer's timeline, the suppressions in force, one decision.

Not records on a topic: the shapes of HTTP answers, shared so that the
service that builds them and the gateway that documents them (OpenAPI) agree.
"""

from typing import Literal

from pydantic import Field

from libs.contract.common import Channel, ContractModel, Identifier, Timestamp
from libs.contract.decision_log import DecisionLogRecord, LoggedSuppression
from libs.contract.suppression import SuppressionEvent

Scalar = str | int | float | bool


class TimelineEvent(ContractModel):
    event_id: Identifier
    type: Identifier
    channel: Channel
    attributes: dict[str, Scalar] = Field(
        description="The few attributes the context keeps (hashed where personal)."
    )


class TimelineEntry(ContractModel):
    at: Timestamp
    kind: Literal["event", "decision", "suppression"]
    event: TimelineEvent | None = Field(description="For `event` entries.")
    decision: DecisionLogRecord | None = Field(
        description="For `decision` entries: the whole explanation."
    )
    suppression: LoggedSuppression | None = Field(
        description="For `suppression` entries: one a decision started or lifted."
    )
    decision_id: Identifier | None = Field(
        description="The decision a `suppression` entry came from."
    )


class Timeline(ContractModel):
    customer_id: Identifier
    entries: list[TimelineEntry] = Field(description="Newest first.")
    total: int = Field(description="Entries kept for the customer, over every page.")
    next_offset: int | None = Field(description="The `offset` of the next page; null at the end.")


class SuppressionsNow(ContractModel):
    customer_id: Identifier
    suppressions: list[SuppressionEvent] = Field(
        description="Every suppression in force now, as the `active` event that started it."
    )
    as_of: Timestamp
