"""`action/v1`: the next best action Concierge decided, on `actions.<channel>`."""

from typing import Any, Final, Literal

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


_SUBJECT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": (
        "Present when the action is a catalogue template bound to this customer's"
        " context: what it is about. Optional; v1 readers may ignore it."
    ),
    "properties": {
        "template": {"type": "string", "description": "The catalogue template's id."},
        "slot": {
            "type": "string",
            "description": "cart_product | interest_category | purchase_accessory | life_stage",
        },
        "category": {"type": "string", "description": "The concrete category (= action.category)."},
        "product_id": {"type": "string", "description": "The concrete product, when there is one."},
        "products": {
            "type": "array",
            "items": {"type": "string"},
            "description": "interest_category: the products of it looked at this week.",
        },
        "for_product": {"type": "string", "description": "purchase_accessory: what was bought."},
        "for_category": {"type": "string", "description": "purchase_accessory: its category."},
        "life_stage": {"type": "string", "description": "life_stage: the profile's life stage."},
    },
}
_BRIEFING_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "description": (
        "Present on actions for a person (store associate, contact-centre agent): the"
        " customer's cross-channel story. Optional; v1 readers may ignore it."
    ),
    "properties": {
        "headline": {"type": "string"},
        "fix_first": {"type": "array", "items": {"type": "object"}},
        "pitch": {
            "type": "object",
            "properties": {"allowed": {"type": "boolean"}, "why": {"type": "string"}},
        },
        "do_not_pitch": {"type": "array", "items": {"type": "object"}},
        "cart": {"type": "array", "items": {"type": "object"}},
        "cart_size": {"type": "integer"},
        "interests": {"type": "array", "items": {"type": "object"}},
        "last_contact": {"type": ["object", "null"]},
        "preferred_channel": {"type": ["string", "null"]},
    },
}


class ActionSpec(ContractModel):
    """An action of the catalogue, as the receiving channel needs it."""

    id: Identifier
    kind: ActionKind
    category: Label
    payload: JsonObject = Field(
        default_factory=dict,
        description=(
            "From the catalogue, e.g. queue and priority for a routing action; optional"
            " `subject` (a template's concrete product or category) and `briefing` (the"
            " customer's story for an associate or agent)."
        ),
        json_schema_extra={
            "properties": {"subject": _SUBJECT_SCHEMA, "briefing": _BRIEFING_SCHEMA}
        },
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
