"""`suppression/v1`: what must NOT be done for a customer, on `suppressions`."""

from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from libs.contract.common import (
    ActionKind,
    ContactChannel,
    ContractModel,
    Identifier,
    Label,
    Text,
    Timestamp,
    Trigger,
)

SUPPRESSION_SCHEMA: Final = "suppression/v1"
SUPPRESSIONS_IN_FORCE_SCHEMA: Final = "suppressions-in-force/v1"


class SuppressionState(StrEnum):
    active = "active"
    lifted = "lifted"


class SuppressionReason(StrEnum):
    """Closed for v1: anything else is `other`, explained in `detail`."""

    open_complaint = "open_complaint"
    consent_withdrawn = "consent_withdrawn"
    frequency_cap = "frequency_cap"
    dismissal_fatigue = "dismissal_fatigue"
    recent_purchase = "recent_purchase"
    erasure = "erasure"
    other = "other"


class SuppressionScope(ContractModel):
    """What is suppressed. Each list narrows the scope; an empty list means all."""

    channels: tuple[ContactChannel, ...] = ()
    kinds: tuple[ActionKind, ...] = ()
    categories: tuple[Label, ...] = ()
    action_ids: tuple[Identifier, ...] = ()

    def covers(
        self,
        channel: ContactChannel | str,
        kind: ActionKind | str | None = None,
        category: str | None = None,
        action_id: str | None = None,
    ) -> bool:
        """Whether a contact with these properties is suppressed.

        A property the caller does not know (None), e.g. an e-mail campaign with
        no action id, counts as covered where the scope narrows on it: when in
        doubt, do not contact the customer.
        """
        return (
            _within(channel, self.channels)
            and _within(kind, self.kinds)
            and _within(category, self.categories)
            and _within(action_id, self.action_ids)
        )


def _within(value: str | None, allowed: tuple[str, ...]) -> bool:
    return not allowed or value is None or value in allowed


class SuppressionEvent(ContractModel):
    schema_: Literal["suppression/v1"] = Field(default=SUPPRESSION_SCHEMA, alias="schema")
    suppression_id: Identifier = Field(
        description="Stable: the `lifted` event that ends a suppression repeats its id."
    )
    customer_id: Identifier
    state: SuppressionState
    reason: SuppressionReason
    detail: Text = Field(min_length=1, description="Why, for people.")
    scope: SuppressionScope = Field(default_factory=SuppressionScope)
    trigger: Trigger
    effective_at: Timestamp
    until: Timestamp | None = Field(
        description="End of the suppression; null means until a `lifted` event."
    )

    @model_validator(mode="after")
    def _until_after_start(self) -> "SuppressionEvent":
        if self.until is not None and self.until <= self.effective_at:
            raise PydanticCustomError("until_order", "until must be after effective_at")
        return self

    def in_force(self, at: datetime) -> bool:
        """Active at `at`, judged on this event alone (a later `lifted` event ends it)."""
        return (
            self.state is SuppressionState.active
            and self.effective_at <= at
            and (self.until is None or at < self.until)
        )


class SuppressionsInForce(ContractModel):
    """`suppressions-in-force/v1` on `suppressions.active` (compacted, keyed by
    customer): every suppression in force for the customer, as the `active`
    events that started them. A tombstone (no value) when none is. A tool that
    starts later reads this topic to its end, then follows `suppressions`."""

    schema_: Literal["suppressions-in-force/v1"] = Field(
        default=SUPPRESSIONS_IN_FORCE_SCHEMA, alias="schema"
    )
    customer_id: Identifier
    suppressions: tuple[SuppressionEvent, ...] = Field(
        description="Each in force when the record was written; one whose `until` has "
        "passed since is over."
    )
    updated_at: Timestamp
