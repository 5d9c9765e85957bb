"""What every service's /metrics carries besides its own series.

Each service keeps its metrics on a registry of its own (tests build many apps
in one process), so the process, garbage-collector and platform collectors that
prometheus_client puts on its global registry are added here explicitly, with
a build-info series that says which release and Python a process runs:

- ``process_*``: CPU seconds, resident memory, open file descriptors, and
  ``process_start_time_seconds`` (its changes count restarts);
- ``python_gc_*``: collections and collected objects per generation;
- ``concierge_gc_pause_seconds{generation}`` and ``concierge_gc_frozen_objects``:
  how long collections stop the process (libs/common/gc_pauses.py);
- ``python_info``: the interpreter;
- ``concierge_build_info{service,version,python}``: always 1.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from libs.common.gc_pauses import instrument_gc


def concierge_version() -> str:
    try:
        return version("concierge")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def instrument_process(registry: CollectorRegistry, service: str) -> None:
    """Process, GC, platform and build-info metrics on a service's registry."""
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    instrument_gc(registry)
    PlatformCollector(registry=registry)
    build = Info("concierge_build", "The release and Python this process runs", registry=registry)
    build.info(
        {"service": service, "version": concierge_version(), "python": platform.python_version()}
    )
