"""How the gateway is served: uvicorn, with the limits a public endpoint needs.

uvicorn bounds idle keep-alive connections (`timeout_keep_alive`) and, with
`limit_concurrency`, answers 503 beyond a number of connections, but it has no
deadline for a request's headers: its keep-alive timer is reset by every byte
and not armed at all before the first request, so a client that sends a
header byte now and then holds a connection forever (slowloris). The protocol
below adds that deadline; the body's deadline is the app's (`routes.read_body`).

It also refuses a request that declares its body's length twice, with both
`Content-Length` and `Transfer-Encoding` (RFC 9112, 6.3): h11 follows
`Transfer-Encoding` and ignores the other, but a proxy in front may follow
`Content-Length`, and the two would then disagree on where the next request
starts (request smuggling). Such a request gets 400 and its connection closed.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import h11
import uvicorn
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from libs.common.logging import get_logger
from services.gateway.settings import GatewaySettings

log = get_logger("concierge.gateway")

TWO_BODY_LENGTHS: Final = (
    "A request may not carry both Content-Length and Transfer-Encoding (RFC 9112, 6.3)"
)


class SingleFramingConnection(h11.Connection):
    """h11's connection, refusing a request whose body length is declared twice."""

    refusal: str | None = None

    def next_event(self) -> Any:
        event = super().next_event()
        if isinstance(event, h11.Request):
            names = {name.lower() for name, _ in event.headers}
            if b"content-length" in names and b"transfer-encoding" in names:
                self.refusal = TWO_BODY_LENGTHS
                raise h11.RemoteProtocolError(TWO_BODY_LENGTHS, error_status_hint=400)
        return event


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers take too
    long, and refusing requests with two body lengths (module docstring).

    The deadline is armed when the connection opens and again after each
    response (for the next request on a kept-alive connection); it is
    harmless once the headers are in, as it only closes a connection still
    waiting for them.
    """

    header_timeout_seconds: float = 10.0

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None
        self.conn = SingleFramingConnection(
            h11.SERVER, config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        )

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every h11 protocol error with one generic message;
        # a refused framing says what to fix.
        refusal = self.conn.refusal if isinstance(self.conn, SingleFramingConnection) else None
        if refusal is not None:
            log.info("two_body_lengths_refused")
        super().send_400_response(refusal or msg)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        self._header_deadline = self.loop.call_later(
            self.header_timeout_seconds, self._header_deadline_passed
        )

    def _header_deadline_passed(self) -> None:
        self._header_deadline = None
        # IDLE: no complete request line and headers yet in this cycle.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("header_timeout", seconds=self.header_timeout_seconds)
            self.transport.close()


def protocol_with_header_deadline(seconds: float) -> type[HeaderDeadlineProtocol]:
    return type(
        "HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout_seconds": seconds}
    )


def uvicorn_config(app: ASGIApp, settings: GatewaySettings, *, host: str) -> uvicorn.Config:
    """The gateway's uvicorn settings: its port, timeouts and connection cap."""
    return uvicorn.Config(
        app,
        host=host,
        port=settings.http_port,
        http=protocol_with_header_deadline(settings.header_timeout_seconds),
        timeout_keep_alive=settings.keep_alive_seconds,
        # Every connection counts, streams and idle keep-alives too: beyond
        # this many, requests are answered 503 by uvicorn itself.
        limit_concurrency=settings.max_connections,
        # structlog (configured by `prepare`) logs what matters; uvicorn's
        # own lines are not JSON and its access log would print every URL, so
        # only its warnings and errors pass.
        access_log=False,
        log_config=None,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
