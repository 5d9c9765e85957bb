"""Typed `attributes` of each interaction type (the vocabulary of interaction/v1).

Every model keeps keys it does not declare (`extra="allow"`): the contract
promises senders that unknown attribute keys are kept, and a key added to a
type later in v1 must not be lost by a service still running this version.
Scalars are strict: `"9.99"` is not a price and `1` is not `true`.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.contract.common import (
    ContactChannel,
    Count,
    Flag,
    Identifier,
    Label,
    NonNegativeNumber,
    Text,
)


class Attributes(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class NoAttributes(Attributes):
    """The type defines no attributes; whatever the sender adds is kept as is."""


class CustomAttributes(Attributes):
    """Free attributes of an `x-<name>` custom type."""


# --- any channel -------------------------------------------------------------


class IdentifyAttributes(NoAttributes):
    """`identify` links every identifier present in `identity` to one customer."""


class ConsentUpdatedAttributes(Attributes):
    purpose: Literal["marketing", "personalization", "service"]
    channel: ContactChannel | None = Field(
        default=None, description="The channel the consent applies to; absent means all."
    )
    granted: Flag


class ProfileUpdatedAttributes(Attributes):
    segment: Label | None = None
    life_stage: Label | None = None
    value_tier: Label | None = None
    timezone: Label | None = Field(default=None, description="IANA name, e.g. Europe/Paris.")
    language: Label | None = Field(default=None, description="BCP 47 tag, e.g. fr-BE.")


class PurchaseItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    product_id: Identifier
    category: Label
    price: NonNegativeNumber | None = Field(default=None, description="Unit price.")
    quantity: Count | None = None


class PurchaseAttributes(Attributes):
    order_id: Identifier
    items: list[PurchaseItem] = Field(min_length=1)
    total: NonNegativeNumber | None = None


class ComplaintOpenedAttributes(Attributes):
    case_id: Identifier
    category: Label | None = None
    severity: Literal["low", "medium", "high"] | None = None


class ComplaintResolvedAttributes(Attributes):
    case_id: Identifier


class ActionOutcomeAttributes(Attributes):
    """`action_shown`, `action_accepted`, `action_dismissed`: what became of an action."""

    decision_id: Identifier
    action_id: Identifier


# --- web and mobile ----------------------------------------------------------

PageType = Literal["home", "product", "category", "search", "help", "cart", "checkout", "account"]


class PageViewAttributes(Attributes):
    """`page_view` (web) and `screen_view` (mobile)."""

    page_type: PageType | None = None
    product_id: Identifier | None = None
    category: Label | None = None


class SearchAttributes(Attributes):
    query: Text | None = None
    results_count: Count | None = Field(
        default=None, description="0 marks an empty search, a frustration signal."
    )


class CartAttributes(Attributes):
    """`cart_add` and `cart_remove`."""

    product_id: Identifier
    category: Label | None = None
    price: NonNegativeNumber | None = None


class CheckoutFailedAttributes(Attributes):
    reason: Text | None = None


# --- phone -------------------------------------------------------------------


class CallStartedAttributes(Attributes):
    dialled: Label | None = Field(
        default=None, description="The service number the customer called."
    )


class IvrStepAttributes(Attributes):
    menu: Label
    option: Label | None = None


class CallQueuedAttributes(Attributes):
    queue: Label | None = None


class CallAbandonedAttributes(Attributes):
    stage: Literal["ivr", "queue"]
    wait_seconds: NonNegativeNumber | None = None


class CallConnectedAttributes(Attributes):
    agent_id: Identifier | None = None
    queue: Label | None = None


class CallEndedAttributes(Attributes):
    duration_seconds: NonNegativeNumber | None = None
    disposition: Label | None = None


# --- store -------------------------------------------------------------------


class StoreVisitAttributes(Attributes):
    store_id: Identifier


class AssociateAssistAttributes(Attributes):
    store_id: Identifier | None = None
    associate_id: Identifier | None = None


class ReturnAttributes(Attributes):
    product_id: Identifier
    reason: Text | None = None
