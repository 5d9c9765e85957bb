"""`action/v1`: the next best action Concierge decided, on `actions.<channel>`."""

from typing import Final, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from libs.contract.common import (
    ActionKind,
    Channel,
    ContractModel,
    Identifier,
    JsonObject,
    Label,
    Number,
    Text,
    Timestamp,
    Trigger,
)

ACTION_SCHEMA: Final = "action/v1"


class ActionSpec(ContractModel):
    """An action of the catalogue, as the receiving channel needs it."""

    id: Identifier
    kind: ActionKind
    category: Label
    payload: JsonObject = Field(
        default_factory=dict,
        description="From the catalogue, e.g. queue and priority for a routing action.",
    )


class Reason(ContractModel):
    """Why this action won, for people: agents, store staff, auditors."""

    code: Label
    detail: Text


class ActionEvent(ContractModel):
    schema_: Literal["action/v1"] = Field(default=ACTION_SCHEMA, alias="schema")
    decision_id: Identifier = Field(description="Unique per decision; a repeat is a duplicate.")
    customer_id: Identifier
    channel: Channel = Field(description="Where to deliver: the channel the customer is on now.")
    action: ActionSpec
    score: Number
    reasons: tuple[Reason, ...] = Field(min_length=1)
    trigger: Trigger
    decided_at: Timestamp
    expires_at: Timestamp = Field(description="Do not show the action after this instant.")
    policy_version: Label = Field(description="The catalogue/policy version that decided.")

    @model_validator(mode="after")
    def _expires_after_decision(self) -> "ActionEvent":
        if self.expires_at <= self.decided_at:
            raise PydanticCustomError("expiry_order", "expires_at must be after decided_at")
        return self
