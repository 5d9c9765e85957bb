"""CPU used per process over a step, in cores (CPU seconds per wall-clock second)."""

from __future__ import annotations

from collections.abc import Mapping

import psutil

from libs.common.addresses import is_loopback_host

BROKER = "broker"


def process_cpu_seconds(pid: int) -> float | None:
    """User + system time of one process (all its threads); None once it is gone.

    Children are not added: the bench's own children are the generator and
    the relays, measured on their own, and Concierge's workers start none.
    """
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return None
    return float(times.user + times.system)


def cores_used(
    before: Mapping[str, float | None], after: Mapping[str, float | None], wall_seconds: float
) -> dict[str, float]:
    """Per process, CPU seconds over the interval divided by its length."""
    used: dict[str, float] = {}
    for name, start in before.items():
        end = after.get(name)
        if start is None or end is None or wall_seconds <= 0:
            continue
        used[name] = max(0.0, end - start) / wall_seconds
    return used


def local_broker_pid(bootstrap: str) -> int | None:
    """The Kafka broker listening on ``bootstrap``'s port, when the bootstrap names
    this machine and the broker is a process of this host that we may inspect
    (``make kafka-up``'s, as the benchmarks use); None otherwise: a remote broker,
    one in a container, one run by another user, or several brokers (their CPU
    would be a cluster's, not one process's).

    Its CPU is the third part of a drain's cost beside the two stages: on one host
    the broker takes cores from them, so what it spends per event is the system's.
    """
    ports = set()
    for server in bootstrap.split(","):
        host, colon, port = server.strip().rpartition(":")
        if not colon or not port.isdigit() or not is_loopback_host(host):
            return None
        ports.add(int(port))
    if len(ports) != 1:
        return None
    (listening,) = ports
    for process in psutil.process_iter(["cmdline"]):
        if "kafka.Kafka" not in (process.info["cmdline"] or ()):
            continue
        try:
            sockets = process.net_connections(kind="tcp")
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if any(
            item.status == psutil.CONN_LISTEN and item.laddr.port == listening for item in sockets
        ):
            return int(process.pid)
    return None


def with_broker(pids: Mapping[str, int], broker: int | None) -> dict[str, int]:
    """``pids`` and the broker's (``local_broker_pid``), if any, under ``BROKER``."""
    return dict(pids) if broker is None else {**pids, BROKER: broker}


class CpuMeter:
    def __init__(self, pids: Mapping[str, int]) -> None:
        self.pids = dict(pids)

    def sample(self) -> dict[str, float | None]:
        return {name: process_cpu_seconds(pid) for name, pid in self.pids.items()}
