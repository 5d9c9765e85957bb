"""Dead-letter record on `interactions.dlq`: an input Concierge refused, and why."""

import base64
import binascii
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final, Literal

from pydantic import Field
from pydantic import StringConstraints as Constraints
from pydantic.types import Strict

from libs.contract.common import ContractModel, Count, Flag, Text, Timestamp

DEAD_LETTER_SCHEMA: Final = "dead-letter/v1"


class ErrorCode(StrEnum):
    """Why a record was refused. Closed for v1; listed in the order intake checks them."""

    empty_record = "empty_record"
    too_large = "too_large"
    invalid_encoding = "invalid_encoding"
    invalid_json = "invalid_json"
    duplicate_key = "duplicate_key"
    unsupported_schema = "unsupported_schema"
    unknown_type = "unknown_type"
    schema_violation = "schema_violation"
    missing_identity = "missing_identity"
    channel_mismatch = "channel_mismatch"
    type_not_allowed_on_channel = "type_not_allowed_on_channel"
    future_timestamp = "future_timestamp"
    internal_error = "internal_error"


SENDER_ACTION: Final[Mapping[ErrorCode, str]] = MappingProxyType(
    {
        ErrorCode.empty_record: "Send a JSON object; Concierge has no use for tombstones "
        "or empty values on interaction topics.",
        ErrorCode.too_large: "Keep the record within 32 KiB: send ids, not documents, "
        "in attributes.",
        ErrorCode.invalid_encoding: "Encode the JSON text as UTF-8.",
        ErrorCode.invalid_json: "Send one well-formed JSON value per record (RFC 8259; "
        "no NaN, no comments, no byte order mark).",
        ErrorCode.duplicate_key: "Name each key once per object: parsers disagree on which "
        "of two values counts.",
        ErrorCode.unsupported_schema: 'Set "schema": "interaction/v1".',
        ErrorCode.unknown_type: "Use a type from the vocabulary, or prefix your own with x-.",
        ErrorCode.schema_violation: "Fix the field named in path; see the interaction/v1 "
        "JSON Schema.",
        ErrorCode.missing_identity: "Put at least one identifier in identity.",
        ErrorCode.channel_mismatch: "Write to the topic of the channel named in the event "
        "(interactions.<channel>).",
        ErrorCode.type_not_allowed_on_channel: "Send this type only from the channels the "
        "vocabulary allows, or use a custom x- type.",
        ErrorCode.future_timestamp: "Fix the sending host's clock; occurred_at may be at most "
        "5 minutes ahead.",
        ErrorCode.internal_error: "Nothing: Concierge failed on a record it should have "
        "judged; operators replay it once fixed.",
    }
)

TopicName = Annotated[str, Strict(), Constraints(min_length=1, max_length=249)]
Base64Text = Annotated[str, Strict(), Constraints(pattern=r"^[A-Za-z0-9+/]*={0,2}$")]


class ErrorInfo(ContractModel):
    code: ErrorCode
    message: Text = Field(description="For people; never contains a raw phone or e-mail.")
    path: str | None = Field(
        description="The offending field, e.g. attributes.items[0].product_id; null when "
        "the record as a whole is at fault."
    )


class SourceRef(ContractModel):
    """Where the refused record is in Kafka."""

    topic: TopicName
    partition: Count
    offset: Count


class DeadLetter(ContractModel):
    schema_: Literal["dead-letter/v1"] = Field(default=DEAD_LETTER_SCHEMA, alias="schema")
    error: ErrorInfo
    original: Base64Text | None = Field(
        description="The record's value as received, base64; null for a null value. See "
        "original_redacted and original_truncated for the two exceptions."
    )
    original_size: Count = Field(description="Size in bytes of the value as received.")
    original_truncated: Flag = Field(
        default=False, description="Only a prefix of an oversized value is kept."
    )
    original_redacted: Flag = Field(
        default=False, description="Raw phone numbers and e-mail addresses were masked."
    )
    source: SourceRef
    rejected_at: Timestamp

    def original_bytes(self) -> bytes | None:
        if self.original is None:
            return None
        try:
            return base64.b64decode(self.original, validate=True)
        except binascii.Error as exc:
            raise ValueError("original is not valid base64") from exc
