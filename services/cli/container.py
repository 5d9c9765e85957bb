"""What the container image runs: one service per container, and its health check.

The image's entrypoint is ``concierge``; ``concierge serve <service>`` replaces
itself with the service's process (so the orchestrator's signals reach it
directly), and ``concierge ready`` is the image's HEALTHCHECK: it finds the
service listening in this container and asks its ``/ready``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import NamedTuple, NoReturn

import httpx

from services.cli.stack import SERVICES, ServiceSpec


class ProbeResult(NamedTuple):
    ready: bool
    detail: str


def service_named(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    known = ", ".join(spec.name for spec in SERVICES)
    raise ValueError(f"unknown service {name!r} (one of: {known})")


def serve(name: str) -> NoReturn:
    """Become the service's process: no shell or wrapper stays between it and PID 1."""
    spec = service_named(name)
    os.execv(sys.executable, [sys.executable, "-m", spec.module])


def ready_url(spec: ServiceSpec, env: Mapping[str, str]) -> str:
    return f"http://127.0.0.1:{env.get(spec.port_variable, spec.default_port)}/ready"


def probe_container(env: Mapping[str, str], get_status: Callable[[str], int | None]) -> ProbeResult:
    """Ready when the service listening here answers /ready 200.

    Each service's port comes from its CONCIERGE_<SERVICE>_HTTP_PORT (or its
    default); a port nothing listens on (``get_status`` gives None) is another
    service's. Nothing listening at all is not ready: the service has not bound
    its port yet, or has exited.
    """
    answers = {spec.name: get_status(ready_url(spec, env)) for spec in SERVICES}
    listening = {name: status for name, status in answers.items() if status is not None}
    if not listening:
        return ProbeResult(False, "no Concierge service listens in this container")
    failing = [f"{name} answered {status}" for name, status in listening.items() if status != 200]
    if failing:
        return ProbeResult(False, "; ".join(failing))
    return ProbeResult(True, "ready: " + ", ".join(listening))


def http_status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=3).status_code
    except httpx.ConnectError:
        return None
    except httpx.HTTPError:
        return 599  # listening but not answering in time counts as not ready
