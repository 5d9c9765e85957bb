"""The /v1 endpoints: thin adapters from HTTP to `ingest`, `runtime`, `proxy` and `stream`.

No `from __future__ import annotations` here: FastAPI reads the handlers'
annotations at run time, and they name dependencies local to each router.
"""

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from libs.common.logging import get_logger
from libs.contract.common import Channel
from services.gateway import api_models as models
from services.gateway.auth import Principal, Scope
from services.gateway.ingest import (
    Admitted,
    Body,
    content_type_problem,
    foreign_items,
    item_results,
    judge_items,
    parse_body,
)
from services.gateway.proxy import UpstreamUnavailable, customer_path, forward_get
from services.gateway.resume import MAX_TOKEN_LENGTH, TOKEN_PATTERN
from services.gateway.runtime import GatewayRuntime, publish
from services.gateway.security import GatewayError, require
from services.gateway.sse import stream_response

log = get_logger("concierge.gateway")

# `:path` so that an opaque id holding "/" (sent as %2F) is still one id.
CustomerId = Annotated[str, Path(min_length=1, max_length=128)]


def _json(body: Any, status: int) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def read_body(request: Request, limit: int, deadline_seconds: float) -> bytes:
    """The body, refusing 413 as soon as it is known to exceed `limit` bytes,
    and 408 when it has not all arrived within `deadline_seconds`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise GatewayError(400, "Content-Length must be a number of bytes")
        if int(declared) > limit:
            raise GatewayError(413, f"The body is {declared} bytes; at most {limit} are accepted")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(deadline_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:  # Content-Length absent (chunked) or understated
                    raise GatewayError(413, f"The body exceeds {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise GatewayError(
            408,
            f"The body did not arrive within {deadline_seconds:g} s",
            # The rest of the body may still be on its way: the connection
            # cannot carry another request.
            headers={"Connection": "close"},
        ) from None
    return b"".join(chunks)


def events_router(runtime: GatewayRuntime) -> APIRouter:
    settings = runtime.settings
    writer = require(settings.api_keys, Scope.events_write)
    router = APIRouter(tags=["events"])

    @router.post(
        "/v1/events",
        status_code=202,
        summary="Send one interaction event, or a batch",
        openapi_extra={"requestBody": models.batch_request_body(settings.max_batch)},
        responses={
            202: {"model": models.IngestResult, "description": "At least one event accepted"},
            400: {
                "model": models.BadBodyProblem,
                "description": "Not JSON; a key named twice in one object (`path` says "
                "where); not an object or array; empty or oversized batch",
            },
            **models.AUTH_ANSWERS,
            403: {
                "model": models.ForbiddenEventsProblem,
                "description": "The key lacks events:write, or sent items of another channel "
                "(`items`)",
            },
            408: {"model": models.Problem, "description": "The body did not arrive in time"},
            413: {"model": models.Problem},
            415: {"model": models.Problem},
            422: {"model": models.IngestResult, "description": "No event accepted"},
            503: {"model": models.IngestUnavailable, "description": "Kafka did not acknowledge"},
        },
    )
    async def post_events(
        request: Request, principal: Annotated[Principal, Depends(writer)]
    ) -> Response:
        problem = content_type_problem(request.headers.get("content-type"))
        if problem is not None:
            raise GatewayError(415, problem)
        raw = await read_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
        body = parse_body(raw, settings.max_batch)
        if not isinstance(body, Body):
            if body.path is None:
                raise GatewayError(400, body.message)
            raise GatewayError(400, body.message, path=body.path)
        foreign = foreign_items(principal, body)
        if foreign:
            indexes = ", ".join(str(index) for index, _ in foreign[:20])
            more = "" if len(foreign) <= 20 else f" and {len(foreign) - 20} more"
            raise GatewayError(
                403,
                f"This API key sends only '{principal.channel}' events; item(s) {indexes}{more} "
                "name another channel",
                key_channel=str(principal.channel),
                items=[{"index": index, "channel": channel.value} for index, channel in foreign],
            )
        verdicts = judge_items(
            body,
            fallback_channel=principal.channel or Channel.web,
            names=runtime.names,
            limits=runtime.limits,
            now=datetime.now(UTC),
        )
        admitted = [verdict for verdict in verdicts if isinstance(verdict, Admitted)]
        writes = (
            await publish(
                runtime.producer,
                admitted,
                settings.produce_timeout_seconds,
                principal=runtime.kafka_principal,
            )
            if admitted
            else {}
        )
        results = item_results(verdicts, writes)
        tally = Counter(result["status"] for result in results)
        for result in results:
            code = result["error"]["code"] if "error" in result else ""
            runtime.metrics.events.labels(result["status"], code).inc()
        answer: dict[str, Any] = {"accepted": tally["accepted"], "rejected": tally["rejected"]}
        if tally["failed"]:
            reason = next(r["error"]["message"] for r in results if r["status"] == "failed")
            log.warning(
                "ingest_unavailable", caller=principal.label, failed=tally["failed"], reason=reason
            )
            answer.update(
                detail=f"{reason}. Nothing is lost silently: resend the whole request with the "
                "same event_ids (repeats are processed once).",
                failed=tally["failed"],
                results=results,
            )
            return _json(answer, 503)
        answer["results"] = results
        log.debug(
            "events_ingested",
            caller=principal.label,
            accepted=tally["accepted"],
            rejected=tally["rejected"],
        )
        return _json(answer, 202 if tally["accepted"] else 422)

    return router


def queries_router(runtime: GatewayRuntime) -> APIRouter:
    settings = runtime.settings
    context_reader = require(settings.api_keys, Scope.context_read)
    decision_reader = require(settings.api_keys, Scope.decision_read)
    router = APIRouter(tags=["queries"])
    passthrough: dict[int | str, dict[str, Any]] = {
        200: {"description": "As the upstream service answered"},
        404: {
            "model": models.UnknownCustomer,
            "description": "Unknown customer (the decision service's answer)",
        },
        **models.AUTH_ANSWERS,
        **models.VALIDATION_ANSWER,
        503: {
            "model": models.Problem,
            "description": "The upstream service did not answer, or failed",
        },
    }

    async def forward(upstream: str, base_url: str, path: str, **params: str) -> Response:
        try:
            return await forward_get(runtime.http, upstream, base_url, path, params or None)
        except UpstreamUnavailable as error:
            runtime.metrics.upstream_errors.labels(upstream).inc()
            log.warning("upstream_unavailable", upstream=upstream, reason=str(error))
            raise GatewayError(503, str(error)) from error

    @router.get(
        "/v1/customers/{customer_id:path}/context",
        summary="The customer's live context (from the decision service)",
        responses=passthrough,
    )
    async def get_context(
        customer_id: CustomerId, _: Annotated[Principal, Depends(context_reader)]
    ) -> Response:
        return await forward("context", settings.context_url, customer_path(customer_id, "context"))

    @router.get(
        "/v1/customers/{customer_id:path}/next-best-action",
        summary="The next best action for the customer on a channel (from the decision service)",
        responses=passthrough,
    )
    async def get_next_best_action(
        customer_id: CustomerId,
        channel: Annotated[Channel, Query(description="The channel the customer is on now")],
        principal: Annotated[Principal, Depends(decision_reader)],
    ) -> Response:
        if not principal.may_act_for(channel):
            raise GatewayError(
                403, f"This API key reads only '{principal.channel}' actions, not '{channel}'"
            )
        path = customer_path(customer_id, "next-best-action")
        return await forward("decision", settings.decision_url, path, channel=channel.value)

    return router


def stream_router(runtime: GatewayRuntime) -> APIRouter:
    settings = runtime.settings
    reader = require(settings.api_keys, Scope.actions_read)
    router = APIRouter(tags=["actions"])

    @router.get(
        "/v1/actions/stream",
        summary="Server-Sent Events of the actions for one channel",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "`event: action`, `id`: resume token, `data`: action/v1 JSON",
            },
            400: {"model": models.Problem, "description": "Malformed or foreign Last-Event-ID"},
            **models.AUTH_ANSWERS,
            **models.VALIDATION_ANSWER,
            429: {
                "model": models.Problem,
                "description": "This API key has MAX_STREAMS_PER_KEY streams open (Retry-After)",
            },
            503: {"model": models.Problem, "description": "Kafka unavailable or too many streams"},
        },
    )
    async def stream_actions(
        principal: Annotated[Principal, Depends(reader)],
        channel: Annotated[Channel, Query(description="Whose actions: actions.<channel>")],
        customer_id: Annotated[
            str | None, Query(min_length=1, max_length=128, description="Only this customer's")
        ] = None,
        last_event_id: Annotated[
            str | None,
            Header(
                alias="Last-Event-ID",
                description="Resume after this event's id (a resume token)",
                # Declared, not enforced here: decode_token answers 400 with the reason.
                json_schema_extra={"pattern": TOKEN_PATTERN, "maxLength": MAX_TOKEN_LENGTH},
            ),
        ] = None,
    ) -> Response:
        if not principal.may_act_for(channel):
            raise GatewayError(
                403, f"This API key reads only '{principal.channel}' actions, not '{channel}'"
            )
        return await stream_response(runtime, principal, channel, customer_id, last_event_id)

    return router
