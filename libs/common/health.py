"""Health, readiness and Prometheus metrics for every process.

``/health``  the process is alive (its event loop answers).
``/ready``   it can do its job now: every readiness check passes (e.g. the
             broker answers, the worker has joined its group). 503 otherwise,
             with the failing checks named.
``/metrics`` Prometheus text format.

The core is framework-free; ``health_routes`` mounts it on any Starlette app
(the gateway), ``serve_health`` runs it standalone on a real HTTP server, and
Faust workers mount the same handlers on Faust's own web server.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ReadinessCheck = Callable[[], bool | Awaitable[bool]]


class PortInUseError(RuntimeError):
    pass


@dataclass
class HealthState:
    service: str
    registry: CollectorRegistry = REGISTRY
    started_at: float = field(default_factory=time.monotonic)
    _checks: dict[str, ReadinessCheck] = field(default_factory=dict)

    def add_readiness_check(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    def liveness(self) -> dict[str, object]:
        return {
            "status": "ok",
            "service": self.service,
            "uptime_seconds": round(time.monotonic() - self.started_at, 3),
        }

    async def readiness(self) -> tuple[bool, dict[str, object]]:
        results: dict[str, bool] = {}
        for name, check in self._checks.items():
            try:
                outcome = check()
                if inspect.isawaitable(outcome):
                    outcome = await asyncio.wait_for(outcome, timeout=5)
                results[name] = bool(outcome)
            except Exception:  # a check that fails to answer is a failing check
                results[name] = False
        ready = all(results.values())
        return ready, {
            "status": "ready" if ready else "not_ready",
            "service": self.service,
            "checks": results,
        }

    def metrics(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def health_routes(state: HealthState) -> list[Route]:
    async def health(_: Request) -> Response:
        return JSONResponse(state.liveness())

    async def ready(_: Request) -> Response:
        is_ready, body = await state.readiness()
        return JSONResponse(body, status_code=200 if is_ready else 503)

    async def metrics(_: Request) -> Response:
        payload, content_type = state.metrics()
        return Response(payload, media_type=content_type)

    return [Route("/health", health), Route("/ready", ready), Route("/metrics", metrics)]


def ensure_port_free(host: str, port: int) -> None:
    """Fail fast, naming the address, instead of a bind error deep in a server."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUseError(f"cannot listen on {host}:{port}: {error.strerror}") from error


async def serve_health(state: HealthState, host: str, port: int) -> uvicorn.Server:
    """Start a standalone health server in the background; returns it for shutdown."""
    ensure_port_free(host, port)
    config = uvicorn.Config(
        Starlette(routes=health_routes(state)),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        if task.done():
            task.result()
            raise PortInUseError(f"health server on {host}:{port} stopped during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError(f"health server on {host}:{port} did not start within 10s")
        await asyncio.sleep(0.02)
    return server
