"""`interaction/v1`: what a channel system says a customer did."""

import builtins
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import StringConstraints as Constraints
from pydantic.config import JsonDict
from pydantic.types import Strict
from pydantic_core import PydanticCustomError

from libs.contract.attributes import Attributes
from libs.contract.common import (
    Channel,
    Identifier,
    InboundModel,
    JsonObject,
    Timestamp,
    omitted_when_none,
)
from libs.contract.identifiers import E164_PATTERN, normalise_email, normalise_phone
from libs.contract.vocabulary import CUSTOM_TYPE_PATTERN, EventType, attributes_model, is_known_type

INTERACTION_SCHEMA: Final = "interaction/v1"
# The key id (v1 addition) names the key a hash was made with, for key rotation;
# hashes made before key ids existed have none.
PII_HASH_PATTERN: Final = r"^hmac-sha256:(?:[a-z0-9][a-z0-9-]{0,15}:)?[0-9a-f]{64}$"

# Validation context marking a record that comes straight from a channel
# system; fields only Concierge may set are refused in it.
_FROM_SENDER: Final = "from_sender"
SENDER_CONTEXT: Final[Mapping[str, bool]] = MappingProxyType({_FROM_SENDER: True})

A = TypeVar("A", bound=Attributes)


def _from_sender(info: ValidationInfo) -> bool:
    context = info.context
    # Records Concierge decodes again (stage 2, every record) carry no context:
    # answered before the abstract-class check, which costs ten times more.
    if context is None:
        return False
    return isinstance(context, Mapping) and bool(context.get(_FROM_SENDER))


def _set_by_concierge_only() -> PydanticCustomError:
    return PydanticCustomError("concierge_only", "Set by Concierge only; senders must not send it")


Phone = Annotated[
    str,
    Strict(),
    AfterValidator(normalise_phone),
    Field(json_schema_extra={"pattern": E164_PATTERN}),
]
Email = Annotated[
    str,
    Strict(),
    AfterValidator(normalise_email),
    Field(json_schema_extra={"format": "email", "maxLength": 254}),
]
PiiHash = Annotated[str, Strict(), Constraints(pattern=PII_HASH_PATTERN)]

# C0 and C1 controls (line breaks among them), DEL, and Unicode's line and
# paragraph separators.
_CONTROL_CHARACTERS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_DOT_SEGMENTS: Final = frozenset({".", ".."})


def _addressable(value: str, info: ValidationInfo) -> str:
    # A customer id is queried back as one URL path segment: "." and ".." are
    # removed by URL normalisation on the way, and a control character breaks
    # routing and log lines. Checked on what senders send (a v1 tightening);
    # records Concierge already accepted still decode. Never repeats the id.
    if not _from_sender(info):
        return value
    if value in _DOT_SEGMENTS:
        raise PydanticCustomError(
            "customer_id_format", "A customer id must not be '.' or '..': it cannot be queried"
        )
    if _CONTROL_CHARACTERS.search(value):
        raise PydanticCustomError(
            "customer_id_format",
            "A customer id must not contain line breaks or other control characters",
        )
    return value


CustomerId = Annotated[
    Identifier,
    AfterValidator(_addressable),
    Field(
        json_schema_extra={
            "not": {"enum": sorted(_DOT_SEGMENTS)},
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$",
        }
    ),
]

_IDENTIFIERS: Final = ("customer_id", "anonymous_id", "device_id", "phone", "email", "loyalty_id")
_HASHES: Final = ("phone_hash", "email_hash")


def _optional(description: str, **extra: Any) -> Any:
    return Field(default=None, exclude_if=omitted_when_none, description=description, **extra)


def _identity_schema(schema: JsonDict) -> None:
    schema["anyOf"] = [
        {"required": [name], "properties": {name: {"type": "string"}}} for name in _IDENTIFIERS
    ]


class Identity(InboundModel):
    """Who did it: at least one identifier. Raw phone and e-mail never leave intake."""

    model_config = ConfigDict(json_schema_extra=_identity_schema)

    customer_id: CustomerId | None = _optional(
        "The customer's id in the enterprise's systems; not '.' or '..', no control characters."
    )
    anonymous_id: Identifier | None = _optional("Web cookie id of a not yet known visitor.")
    device_id: Identifier | None = _optional("Mobile app installation id.")
    phone: Phone | None = _optional("E.164 phone number; replaced by phone_hash at intake.")
    email: Email | None = _optional("E-mail address; replaced by email_hash at intake.")
    loyalty_id: Identifier | None = _optional("Store loyalty card number.")
    phone_hash: PiiHash | None = _optional(
        "Keyed hash of the normalised phone; set by Concierge only.",
        json_schema_extra={"readOnly": True},
    )
    email_hash: PiiHash | None = _optional(
        "Keyed hash of the normalised e-mail; set by Concierge only.",
        json_schema_extra={"readOnly": True},
    )

    @field_validator(*_HASHES, mode="before")
    @classmethod
    def _hashes_come_from_concierge(cls, value: object, info: ValidationInfo) -> object:
        # A sender-made hash would let it claim any customer's phone or e-mail.
        if value is not None and _from_sender(info):
            raise _set_by_concierge_only()
        return value

    @model_validator(mode="after")
    def _at_least_one_identifier(self) -> "Identity":
        # The fields are the identifiers and hashes and nothing else (extra fields
        # are refused): the first one set ends the look, usually at customer_id.
        for value in self.__dict__.values():
            if value is not None:
                return self
        raise PydanticCustomError(
            "missing_identity",
            "At least one identifier is required: " + ", ".join(_IDENTIFIERS),
        )


def _check_schema(value: object) -> object:
    if isinstance(value, str) and value != INTERACTION_SCHEMA:
        raise PydanticCustomError(
            "unsupported_schema",
            "'{schema}' is not supported here; expected '{expected}'",
            {"schema": value[:64], "expected": INTERACTION_SCHEMA},
        )
    return value


def _check_type(value: str) -> str:
    if not is_known_type(value):
        raise PydanticCustomError(
            "unknown_type",
            "'{type}' is neither in the interaction/v1 vocabulary nor a custom x-<name> type",
            {"type": value[:64]},
        )
    return value


EventTypeName = Annotated[
    str,
    Strict(),
    AfterValidator(_check_type),
    Field(
        json_schema_extra={
            "anyOf": [{"enum": [t.value for t in EventType]}, {"pattern": CUSTOM_TYPE_PATTERN}]
        }
    ),
]


def _absent_when_null(value: object) -> object:
    return {} if value is None else value


# Far beyond any real attributes, far below the ~200 levels at which pydantic's
# JSON parser and serializer give up: deeper input would be accepted here and
# then break every downstream consumer.
MAX_ATTRIBUTE_DEPTH: Final = 32
_CONTAINERS: Final = (dict, list)


def _deeper_than(container: dict[str, Any] | list[Any], levels: int) -> bool:
    """Whether `container` (itself one level) nests more than `levels` levels.

    Recursion is bounded by `levels`. A plain loop, not any() over a generator
    nor an explicit stack: this runs on every event and those cost 2-3x more.
    """
    if levels < 1:
        return True
    for item in container.values() if isinstance(container, dict) else container:
        if isinstance(item, _CONTAINERS) and _deeper_than(item, levels - 1):
            return True
    return False


def _within_depth(value: JsonObject) -> JsonObject:
    if _deeper_than(value, MAX_ATTRIBUTE_DEPTH):
        raise PydanticCustomError(
            "too_deep", "Nested deeper than {limit} levels", {"limit": MAX_ATTRIBUTE_DEPTH}
        )
    return value


class InteractionEvent(InboundModel):
    """One thing a customer did on one channel, as the channel system reports it."""

    schema_: Literal["interaction/v1"] = Field(alias="schema")
    event_id: Identifier = Field(description="Chosen by the sender; a repeat is processed once.")
    type: EventTypeName
    channel: Channel = Field(description="Where it happened; must match the topic.")
    occurred_at: Timestamp = Field(description="At most 5 minutes ahead of Concierge's clock.")
    identity: Identity
    session_id: Identifier | None = _optional("The channel's session.")
    attributes: JsonObject = Field(
        default_factory=dict, description="Per type; keys the type does not define are kept."
    )
    received_at: Timestamp | None = _optional(
        "When intake accepted the event; set by Concierge only.",
        json_schema_extra={"readOnly": True},
    )

    @field_validator("schema_", mode="before")
    @classmethod
    def _supported_schema(cls, value: object) -> object:
        return _check_schema(value)

    @field_validator("attributes", mode="before")
    @classmethod
    def _null_attributes(cls, value: object) -> object:
        return _absent_when_null(value)

    @field_validator("attributes", mode="after")
    @classmethod
    def _shallow_enough(cls, value: JsonObject) -> JsonObject:
        return _within_depth(value)

    @field_validator("received_at", mode="before")
    @classmethod
    def _received_at_from_concierge(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and _from_sender(info):
            raise _set_by_concierge_only()
        return value

    @classmethod
    def from_sender(cls, data: object) -> "InteractionEvent":
        """Validate a record as a channel system sent it (Concierge-only fields refused).

        Attributes are not checked against the type here: see `typed_attributes`.
        """
        return cls.model_validate(data, context=SENDER_CONTEXT, by_alias=True, by_name=False)

    def typed_attributes(self) -> Attributes:
        """The attributes validated against this type's model (raises ValidationError)."""
        return attributes_model(self.type).model_validate(self.attributes)

    def attributes_as(self, model: builtins.type[A]) -> A:
        """Typed attributes when the caller knows the model, e.g. PurchaseAttributes."""
        expected = attributes_model(self.type)
        if not issubclass(expected, model):
            raise TypeError(f"{self.type} attributes are {expected.__name__}, not {model.__name__}")
        return model.model_validate(self.attributes)
