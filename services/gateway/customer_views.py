"""What the console and agent desktops read about one customer: the timeline,
the suppressions in force, a decision's explanation; and the suppressions of
a channel as Server-Sent Events.

The first three are answered by the decision service, which keeps them per
customer beside the context (its timeline index and suppressions-in-force
table); the gateway checks the key, passes the question on and the answer
back. An upstream refusal that is not already a problem document becomes one.
"""

from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from libs.common.logging import get_logger
from libs.contract.common import Channel
from libs.contract.decision_log import DecisionLogRecord, decision_channel
from libs.contract.queries import SuppressionsNow, Timeline
from services.gateway import api_models as models
from services.gateway.auth import Principal, Scope
from services.gateway.problems import PROBLEM_MEDIA_TYPE, GatewayError, problem_response
from services.gateway.proxy import UpstreamUnavailable, customer_path, forward_get
from services.gateway.runtime import GatewayRuntime
from services.gateway.security import require
from services.gateway.sse import stream_response

log = get_logger("concierge.gateway")

CustomerId = Annotated[str, Path(min_length=1, max_length=128)]
DecisionId = Annotated[str, Path(min_length=1, max_length=128)]


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Bad paging or a missing parameter",
        401: "No API key, or an unknown one",
        403: "The key lacks the scope, or is bound to another channel",
        404: "Unknown customer or decision",
        422: "A parameter is malformed",
        503: "The decision service or Kafka did not answer",
    }
    return {
        status: {
            "model": models.Problem,
            "description": described[status],
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


def as_problem(answer: Response) -> Response:
    """A refusal from upstream as a problem document (it may be one already)."""
    if answer.status_code < 400 or answer.headers.get("content-type", "") == PROBLEM_MEDIA_TYPE:
        return answer
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        body = None
    detail = body.get("detail") or body.get("error") if isinstance(body, dict) else None
    return problem_response(answer.status_code, str(detail or "The decision service refused"))


def suppression_covers(channel: Channel) -> Any:
    """Whether a `suppression/v1` record concerns ``channel`` (an empty scope is all)."""

    def keep(value: bytes) -> bool:
        try:
            body = orjson.loads(value)
            channels = body.get("scope", {}).get("channels") or []
        except (orjson.JSONDecodeError, AttributeError):
            return False
        return not channels or channel.value in channels

    return keep


def customer_views_router(runtime: GatewayRuntime) -> APIRouter:
    settings = runtime.settings
    context_reader = require(settings.api_keys, Scope.context_read)
    decision_reader = require(settings.api_keys, Scope.decision_read)
    router = APIRouter(tags=["customer views"])

    async def forward(path: str, **params: str) -> Response:
        try:
            answer = await forward_get(
                runtime.http, "decision", settings.decision_url, path, params or None
            )
        except UpstreamUnavailable as error:
            runtime.metrics.upstream_errors.labels("decision").inc()
            log.warning("upstream_unavailable", upstream="decision", reason=str(error))
            raise GatewayError(503, str(error)) from error
        return as_problem(answer)

    @router.get(
        "/v1/customers/{customer_id:path}/timeline",
        summary="The customer's events, decisions and suppressions, newest first, paged",
        responses={200: {"model": Timeline}, **refusals(400, 401, 403, 404, 422, 503)},
    )
    async def get_timeline(
        customer_id: CustomerId,
        principal: Annotated[Principal, Depends(context_reader)],
        limit: Annotated[int, Query(ge=1, le=200, description="Entries per page")] = 50,
        offset: Annotated[int, Query(ge=0, description="`next_offset` of the last page")] = 0,
    ) -> Response:
        path = customer_path(customer_id, "timeline")
        if principal.channel is None:
            return await forward(path, limit=str(limit), offset=str(offset))
        # A channel key sees its own channel's decisions only, as for one decision.
        return await forward(
            path, limit=str(limit), offset=str(offset), channel=principal.channel.value
        )

    @router.get(
        "/v1/customers/{customer_id:path}/suppressions",
        summary="The suppressions in force for the customer now, and why",
        responses={200: {"model": SuppressionsNow}, **refusals(401, 403, 422, 503)},
    )
    async def get_suppressions(
        customer_id: CustomerId, _: Annotated[Principal, Depends(context_reader)]
    ) -> Response:
        return await forward(customer_path(customer_id, "suppressions"))

    @router.get(
        "/v1/decisions/{decision_id}",
        summary="One decision with its full explanation (from the customer's latest decisions)",
        responses={200: {"model": DecisionLogRecord}, **refusals(400, 401, 403, 404, 422, 503)},
    )
    async def get_decision(
        decision_id: DecisionId,
        customer_id: Annotated[
            str,
            Query(
                min_length=1,
                max_length=128,
                description="Whose decision: decisions are kept with their customer, and "
                "the question goes to the worker that owns the customer",
            ),
        ],
        principal: Annotated[Principal, Depends(decision_reader)],
    ) -> Response:
        # Opaque: a "?" or "#" in one must stay inside the segment upstream.
        path = f"/v1/decisions/{quote(decision_id, safe='')}"
        answer = await forward(path, customer_id=customer_id)
        if answer.status_code == 200 and principal.channel is not None:
            where = decision_channel(orjson.loads(answer.body))
            if where != principal.channel.value:
                raise GatewayError(
                    403, f"This API key reads only '{principal.channel}' decisions, not '{where}'"
                )
        return answer

    return router


def suppression_stream_router(runtime: GatewayRuntime) -> APIRouter:
    settings = runtime.settings
    reader = require(settings.api_keys, Scope.actions_read)
    router = APIRouter(tags=["actions"])

    @router.get(
        "/v1/suppressions/stream",
        summary="Server-Sent Events of the suppressions that concern one channel",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "`event: suppression`, `id`: resume token, `data`: "
                "suppression/v1 JSON (starts and lifts whose scope names the channel or all)",
            },
            **refusals(400, 401, 403, 422, 503),
        },
    )
    async def stream_suppressions(
        principal: Annotated[Principal, Depends(reader)],
        channel: Annotated[
            Channel | None,
            Query(
                description="Suppressions that concern this channel; every suppression when "
                "absent (all-channel keys only)"
            ),
        ] = None,
        customer_id: Annotated[
            str | None, Query(min_length=1, max_length=128, description="Only this customer's")
        ] = None,
        last_event_id: Annotated[
            str | None,
            Header(alias="Last-Event-ID", description="Resume after this event's id"),
        ] = None,
    ) -> Response:
        if channel is None and principal.channel is not None:
            raise GatewayError(403, f"This API key reads only '{principal.channel}' suppressions")
        if channel is not None and not principal.may_act_for(channel):
            raise GatewayError(
                403, f"This API key reads only '{principal.channel}' suppressions, not '{channel}'"
            )
        return await stream_response(
            runtime,
            principal,
            channel or Channel.web,  # names the stream in logs and metrics only
            customer_id,
            last_event_id,
            what="suppression",
            topic=runtime.names.suppressions,
            keep=None if channel is None else suppression_covers(channel),
        )

    return router
