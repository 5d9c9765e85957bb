"""One Server-Sent Events answer for every stream the gateway serves (actions,
suppressions): resume token, stream slots, the stream and its response.

No `from __future__ import annotations`, like the route modules."""

from collections.abc import Callable

import anyio
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.responses import Response

from libs.common.logging import get_logger
from libs.contract.common import Channel
from services.gateway.auth import Principal
from services.gateway.resume import BadResumeToken, decode_token
from services.gateway.runtime import GatewayRuntime, NoStreamSlot
from services.gateway.security import GatewayError
from services.gateway.stream import SHUTDOWN_GRACE_SECONDS, StreamUnavailable, open_action_stream

log = get_logger("concierge.gateway")

SSE_SEND_TIMEOUT_SECONDS = 30.0
# Streams last minutes to hours: a refused client should not retry at once.
STREAM_RETRY_AFTER_SECONDS = 30


async def stream_response(
    runtime: GatewayRuntime,
    principal: Principal,
    channel: Channel,
    customer_id: str | None,
    last_event_id: str | None,
    *,
    what: str = "action",
    topic: str | None = None,
    keep: Callable[[bytes], bool] | None = None,
) -> Response:
    """The SSE response for one stream of `what` records ("action", "suppression"):
    400 for a bad resume token, 429 past the key's streams, 503 past all streams
    or when the topic can't be read. The caller has checked the key's scope and
    channel."""
    settings = runtime.settings
    try:
        requested = decode_token(last_event_id) if last_event_id is not None else None
    except BadResumeToken as error:
        raise GatewayError(400, str(error)) from error
    retry_after = {"Retry-After": str(STREAM_RETRY_AFTER_SECONDS)}
    refusal = runtime.take_stream_slot(principal.number)
    if refusal is NoStreamSlot.key_at_limit:
        raise GatewayError(
            429,
            f"This API key has {settings.max_streams_per_key} streams open, its limit; "
            "close one or retry later",
            headers=retry_after,
        )
    if refusal is NoStreamSlot.all_taken:
        raise GatewayError(
            503, f"Too many open streams (at most {settings.max_streams})", headers=retry_after
        )
    try:
        stream = await open_action_stream(
            runtime,
            channel,
            customer_id,
            requested,
            principal.number,
            topic=topic,
            event_name=what,
            keep=keep,
        )
    except BadResumeToken as error:
        raise GatewayError(400, str(error)) from error
    except StreamUnavailable as error:
        log.warning("stream_unavailable", stream=what, channel=channel.value, reason=str(error))
        raise GatewayError(503, f"The {what} stream is unavailable: {error}") from error
    shutdown = anyio.Event()
    return EventSourceResponse(
        stream.events(shutdown),
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
        ping=settings.sse_heartbeat_seconds,
        send_timeout=SSE_SEND_TIMEOUT_SECONDS,
        # Runs even if the body never starts; close() is idempotent.
        background=BackgroundTask(stream.close),
        headers={"X-Resume-Token": stream.token},
    )
