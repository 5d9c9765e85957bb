"""Response shapes, for the OpenAPI document (handlers build the JSON directly)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ItemError(BaseModel):
    code: str = Field(
        description="A dead-letter code of the contract (schema_violation, unknown_type, "
        "future_timestamp, too_large, missing_identity, ...), or `unavailable` when Kafka "
        "did not take the item (503)."
    )
    message: str
    path: str | None = Field(description="The offending field, or null for the whole item.")


class ItemResult(BaseModel):
    index: int = Field(description="Position in the request (0 for a single event).")
    event_id: str | None = Field(description="The item's event_id as sent, if it had one.")
    status: Literal["accepted", "rejected", "failed"]
    error: ItemError | None = None
    partition: int | None = Field(default=None, description="Where Kafka stored it (accepted).")
    offset: int | None = None


class IngestResult(BaseModel):
    accepted: int
    rejected: int
    results: list[ItemResult]


class IngestUnavailable(IngestResult):
    detail: str
    failed: int


class Problem(BaseModel):
    """RFC 9457 problem details, `application/problem+json`; some refusals add members."""

    type: str = Field(default="about:blank", description="`about:blank`: the status says it.")
    title: str = Field(description="The HTTP status phrase.")
    status: int
    detail: str = Field(description="What was wrong with this request, for people.")


class BadBodyProblem(Problem):
    path: str | None = Field(
        default=None,
        description="Where in the body, when one place is at fault: the second occurrence "
        "of a key named twice, e.g. `[1].channel`.",
    )


class ForeignChannelProblem(Problem):
    key_channel: str
    items: list[dict[str, Any]] = Field(
        description="[{index, channel}] of the items this key may not send."
    )


BATCH_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "object", "description": "One interaction/v1 event."},
                    {
                        "type": "array",
                        "items": {"type": "object"},
                        "minItems": 1,
                        "description": "A batch of interaction/v1 events.",
                    },
                ],
                "description": "interaction/v1 events: see schemas/interaction.v1.json.",
            }
        }
    },
}
