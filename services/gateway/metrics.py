"""The gateway's Prometheus metrics, on a registry of its own app (not the global one)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "unmatched"
# nginx's "client closed request": the client hung up before its request was read.
CLIENT_CLOSED_REQUEST = 499
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "concierge_gateway_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "concierge_gateway_request_seconds",
            "Time to the response's first byte (for SSE: to the stream opening)",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "concierge_gateway_events",
            "Ingested events by outcome and error code",
            ["outcome", "code"],
            registry=self.registry,
        )
        self.streams_open = Gauge(
            "concierge_gateway_streams_open", "Open SSE action streams", registry=self.registry
        )
        self.actions_streamed = Counter(
            "concierge_gateway_actions_streamed",
            "Actions sent on SSE streams, by channel",
            ["channel"],
            registry=self.registry,
        )
        self.suppressions_streamed = Counter(
            "concierge_gateway_suppressions_streamed",
            "Suppressions sent on SSE streams, by the channel asked for (web when all)",
            ["channel"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "concierge_gateway_upstream_errors",
            "Proxied queries whose upstream did not answer",
            ["upstream"],
            registry=self.registry,
        )


class MetricsMiddleware:
    """Counts and times every HTTP request, labelled by route template, not by URL,
    so customer ids never become label values."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.metrics.latency.labels(route_template(scope), scope["method"]).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.metrics.requests.labels(route_template(scope), scope["method"], str(status)).inc()


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    # path_format drops converters: /v1/customers/{customer_id}/context
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # Plain Starlette routes (health, docs) have no parameters: their path is
    # their template. Anything else that matched nothing stays one label.
    if scope.get("endpoint") is not None:
        return str(scope["path"])
    return UNMATCHED_ROUTE
