"""Response shapes, for the OpenAPI document (handlers build the JSON directly)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    """RFC 9457 problem details (`application/problem+json`); more members may follow."""

    model_config = ConfigDict(extra="allow")

    type: Literal["about:blank"] = Field(description="No type beyond the status code.")
    title: str = Field(description="The status code's reason phrase.")
    status: int
    detail: str = Field(description="Why, for people.")


class BadBodyProblem(Problem):
    path: str | None = Field(
        default=None,
        description="Where in the body, when one place is at fault: the second occurrence "
        "of a key named twice, e.g. `[1].channel`.",
    )


class ForbiddenProblem(Problem):
    required_scope: str | None = Field(
        default=None, description="The scope the key lacks, when that is the reason."
    )


class ForeignItem(BaseModel):
    index: int
    channel: str


class ForbiddenEventsProblem(ForbiddenProblem):
    key_channel: str | None = Field(
        default=None, description="The key's channel, when items name another one."
    )
    items: list[ForeignItem] | None = Field(
        default=None, description="The items this key may not send (at most all of them)."
    )


class FieldError(BaseModel):
    loc: list[str] = Field(description='Where, e.g. ["query", "channel"].')
    msg: str
    type: str


class ValidationProblem(Problem):
    errors: list[FieldError] = Field(description="Each parameter that does not fit (up to 20).")


class UnknownCustomer(BaseModel):
    """The decision service's 404, passed through as it answered."""

    model_config = ConfigDict(extra="allow")

    error: Literal["unknown_customer"]
    customer_id: str | None = None


# Refusals are served as application/problem+json (services.gateway.problems);
# services.gateway.openapi declares them so.
PROBLEM_MODELS: tuple[type[Problem], ...] = (
    Problem,
    BadBodyProblem,
    ForbiddenProblem,
    ForbiddenEventsProblem,
    ValidationProblem,
)
INTERACTION_EVENT_REF = "#/components/schemas/InteractionEvent"


def batch_request_body(max_batch: int) -> dict[str, Any]:
    """`POST /v1/events`: one interaction/v1 event, or 1 to `max_batch` of them."""
    event = {"$ref": INTERACTION_EVENT_REF}
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        event,
                        {
                            "type": "array",
                            "items": event,
                            "minItems": 1,
                            "maxItems": max_batch,
                            "description": "A batch of interaction/v1 events.",
                        },
                    ],
                    "description": "interaction/v1 events (schemas/interaction.v1.json). Items "
                    "are judged one by one: an item the schema refuses is rejected with its "
                    "index and reason (422 when none is accepted), the others are accepted.",
                }
            }
        },
    }


# Answers every authenticated operation can give, for its `responses=`.
AUTH_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {
        "model": Problem,
        "description": "No key, another scheme or an unknown key (with WWW-Authenticate)",
    },
    403: {
        "model": ForbiddenProblem,
        "description": "The key lacks the scope, or acts for another channel",
    },
}
# Operations with parameters: one that does not fit the document.
VALIDATION_ANSWER: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationProblem, "description": "A parameter does not fit this document"}
}
