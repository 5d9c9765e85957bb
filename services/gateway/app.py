"""Composition point of the HTTP gateway: settings in, a FastAPI app out.

Nothing runs at import time. The producer and the upstream HTTP client live
as long as the app's lifespan; every handler reaches them through the one
`GatewayRuntime` built here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from libs.common.health import HealthState, health_routes
from libs.common.logging import get_logger
from libs.common.loop_delay import LoopDelay
from libs.common.telemetry import instrument_process
from libs.common.topics import TopicNames
from services.gateway.console import mount_console
from services.gateway.customer_views import customer_views_router, suppression_stream_router
from services.gateway.ingest import IngestLimits
from services.gateway.metrics import GatewayMetrics, MetricsMiddleware
from services.gateway.openapi import gateway_openapi
from services.gateway.operations import operations_router
from services.gateway.problems import (
    GatewayError,
    gateway_error_handler,
    http_error_handler,
    validation_error_handler,
)
from services.gateway.routes import events_router, queries_router, stream_router
from services.gateway.runtime import GatewayRuntime
from services.gateway.security import client_disconnect_handler
from services.gateway.settings import GatewaySettings

log = get_logger("concierge.gateway")

DESCRIPTION = """\
HTTP for channel systems and apps that cannot speak Kafka: send interaction
events, query a customer's context and next best action, and follow the
actions for a channel as Server-Sent Events. Every /v1 call needs an API key
(`Authorization: Bearer <key>`) with the right scope; see docs/gateway.md.
"""


def create_app(settings: GatewaySettings) -> FastAPI:
    metrics = GatewayMetrics()
    runtime = GatewayRuntime(
        settings=settings,
        metrics=metrics,
        names=TopicNames(settings.common.topic_prefix),
        limits=IngestLimits(
            max_batch=settings.max_batch,
            max_event_bytes=settings.max_event_bytes,
            max_future=timedelta(seconds=settings.max_future_seconds),
        ),
    )
    health = HealthState("gateway", registry=metrics.registry)
    instrument_process(health.registry, "gateway")
    loop_delay = LoopDelay(health.registry)
    health.add_readiness_check("broker", runtime.broker_ready)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not settings.api_keys:
            log.warning("no_api_keys", hint="set CONCIERGE_GATEWAY_API_KEYS; /v1 calls get 401")
        await runtime.start()
        # Every request is served on this loop (libs/common/loop_delay.py).
        watching = asyncio.create_task(loop_delay.watch())
        log.info(
            "gateway_started",
            keys=len(settings.api_keys),
            bootstrap=settings.common.kafka_bootstrap_servers,
        )
        try:
            yield
        finally:
            watching.cancel()
            await runtime.stop()
            log.info("gateway_stopped")

    app = FastAPI(
        title="Concierge gateway",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        # A trailing-slash redirect would answer before authentication, with a
        # Location built from the client's Host header: API routes have one
        # spelling, anything else is 404.
        redirect_slashes=False,
    )
    app.state.runtime = runtime  # for tests and operators; handlers use closures
    app.add_exception_handler(GatewayError, gateway_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    app.add_exception_handler(ClientDisconnect, client_disconnect_handler)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(events_router(runtime))
    app.include_router(queries_router(runtime))
    app.include_router(stream_router(runtime))
    app.include_router(customer_views_router(runtime))
    app.include_router(suppression_stream_router(runtime))
    app.include_router(operations_router(runtime))
    app.router.routes.extend(health_routes(health))
    mount_console(app)
    app.openapi = lambda: gateway_openapi(app)  # type: ignore[method-assign]
    return app
