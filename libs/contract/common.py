"""Building blocks shared by every record of the wire contract."""

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import StringConstraints as Constraints
from pydantic.types import Strict
from pydantic_core import PydanticCustomError


class Channel(StrEnum):
    """A channel on which customers interact and receive actions."""

    web = "web"
    phone = "phone"
    mobile = "mobile"
    store = "store"


class ContactChannel(StrEnum):
    """Any channel Concierge may speak on or suppress, outbound-only ones included."""

    web = "web"
    phone = "phone"
    mobile = "mobile"
    store = "store"
    email = "email"
    sms = "sms"
    push = "push"


class ActionKind(StrEnum):
    service = "service"
    offer = "offer"
    routing = "routing"
    info = "info"


class ContractModel(BaseModel):
    """Base of records Concierge emits.

    Readers ignore fields they do not know, so adding an optional field within v1
    never breaks a consumer pinned to an older copy of these models.
    """

    model_config = ConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        json_schema_serialization_defaults_required=True,
    )


class InboundModel(ContractModel):
    """Base of records Concierge receives: a misspelt field is an error, not a silent loss."""

    model_config = ConfigDict(extra="forbid")


# RFC 3339 `date-time`; pydantic alone would also take epoch numbers and
# numeric strings, which the contract does not allow.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z",
    re.ASCII,
)

RFC3339_HINT = "an RFC 3339 date-time with an offset, e.g. 2025-05-01T12:00:00Z"


def _require_rfc3339(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339.match(value):
        return value
    raise PydanticCustomError("rfc3339", "Input should be {hint}", {"hint": RFC3339_HINT})


def _within_utc_range(value: datetime) -> datetime:
    # Year 1 at +14:00 or year 9999 at -14:00 parse, then overflow the moment a
    # consumer converts them to UTC.
    if not 1 < value.year < 9999:
        raise PydanticCustomError("timestamp_range", "Input should be between years 2 and 9998")
    return value


Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_require_rfc3339), AfterValidator(_within_utc_range)
]
"""A timezone-aware instant; naive datetimes and epoch numbers are rejected."""

Identifier = Annotated[str, Strict(), Constraints(min_length=1, max_length=128)]
"""An opaque id chosen by some system: event, customer, product, case, ..."""

Label = Annotated[str, Strict(), Constraints(min_length=1, max_length=128)]
"""A short code-like value from a channel's own taxonomy (category, queue, segment)."""

Text = Annotated[str, Strict()]
"""Free human-readable text."""

Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
NonNegativeNumber = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Strict(), Field(ge=0)]
Flag = Annotated[bool, Strict()]
JsonObject = dict[str, Any]


def omitted_when_none(value: object) -> bool:
    """`exclude_if` predicate: an absent optional field is left out of the JSON."""
    return value is None


class Trigger(ContractModel):
    """The input that caused an action or a suppression."""

    event_id: Identifier = Field(
        description="The interaction's event_id, or an erasure request's request_id."
    )
    type: Label = Field(description="The interaction type, or `erasure`.")
    channel: Channel | None = Field(
        default=None,
        description="Channel of the triggering interaction; null when the trigger is not "
        "an interaction (an erasure request).",
    )
