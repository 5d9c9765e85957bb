"""The health helper served over real HTTP."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from libs.common.health import HealthState, PortInUseError, serve_health


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_health_ready_and_metrics_over_http() -> None:
    registry = CollectorRegistry()
    Counter("concierge_test_events", "events seen", registry=registry).inc(3)
    state = HealthState("test", registry=registry)
    broker_up = {"value": False}
    state.add_readiness_check("broker", lambda: broker_up["value"])
    port = _free_port()
    server = await serve_health(state, "127.0.0.1", port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/health")
            assert health.status_code == 200
            assert health.json()["service"] == "test"

            not_ready = await client.get("/ready")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"] == {"broker": False}

            broker_up["value"] = True
            assert (await client.get("/ready")).status_code == 200

            metrics = await client.get("/metrics")
            assert metrics.headers["content-type"].startswith("text/plain")
            assert "concierge_test_events_total 3.0" in metrics.text
    finally:
        server.should_exit = True


async def test_a_taken_port_fails_fast_naming_the_address() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port}"):
            await serve_health(HealthState("test"), "127.0.0.1", port)
