"""How the gateway is served: uvicorn, with the limits a public endpoint needs.

uvicorn bounds idle keep-alive connections (`timeout_keep_alive`) and, with
`limit_concurrency`, answers 503 beyond a number of connections, but it has no
deadline for a request's headers: its keep-alive timer is reset by every byte
and not armed at all before the first request, so a client that sends a
header byte now and then holds a connection forever (slowloris). The protocol
below adds that deadline; the body's deadline is the app's (`routes.read_body`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from libs.common.logging import get_logger
from services.gateway.settings import GatewaySettings

log = get_logger("concierge.gateway")


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers take too long.

    The deadline is armed when the connection opens and again after each
    response (for the next request on a kept-alive connection); it is
    harmless once the headers are in, as it only closes a connection still
    waiting for them.
    """

    header_timeout_seconds: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

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
