"""Fixtures of the reliability tier: a fresh topic set per test, and a private broker
for the test that stops and restarts one."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from libs.common.settings import CommonSettings
from tests.reliability.harness import REPO

KAFKA_SCRIPT = REPO / "deploy" / "kafka" / "kafka.sh"


def fresh_settings(bootstrap: str, partitions: int = 2) -> CommonSettings:
    return CommonSettings(
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=f"r{uuid.uuid4().hex[:10]}.",
        partitions=partitions,
        # A partition nobody consumes makes its worker exit for a restart
        # (libs/common/stall.py); sooner than in production, to keep tests short.
        partition_stall_seconds=20.0,
    )


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_pair() -> int:
    """A port whose successor is free too (kafka.sh puts the controller on port + 1)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < 65535 and _port_free(port) and _port_free(port + 1):
            return port
    raise RuntimeError("no free port pair on loopback")


@dataclass
class PrivateBroker:
    """A broker of our own, run by deploy/kafka/kafka.sh, that a test may stop."""

    port: int
    run_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, command: str) -> subprocess.CompletedProcess[str]:
        env = dict(
            os.environ,
            KAFKA_PORT=str(self.port),
            KAFKA_RUN_DIR=str(self.run_dir),
            PYTHON=sys.executable,
            KAFKA_HEAP="512m",
        )
        return subprocess.run(
            [str(KAFKA_SCRIPT), command], env=env, capture_output=True, text=True, check=False
        )

    def up(self) -> None:
        started = self._run("up")
        if started.returncode != 0:
            raise RuntimeError(f"private broker did not start: {started.stderr.strip()}")

    def down(self) -> None:
        self._run("down")

    def wipe(self) -> None:
        self._run("wipe")

    @property
    def pid(self) -> int:
        return int((self.run_dir / "kafka.pid").read_text())

    def freeze(self) -> None:
        """SIGSTOP: the broker stops answering but keeps its connections (a long GC
        pause, a stalled disk)."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    """One per module: its first test gets a cluster nobody has used yet."""
    broker = PrivateBroker(free_port_pair(), tmp_path_factory.mktemp("kafka"))
    try:
        broker.up()
    except RuntimeError as error:
        broker.wipe()
        pytest.fail(str(error), pytrace=False)
    try:
        yield broker
    finally:
        with contextlib.suppress(OSError, ValueError):
            broker.thaw()
        broker.wipe()
