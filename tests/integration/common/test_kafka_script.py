"""deploy/kafka/kafka.sh as users and CI run it: reuse, stale state, taken ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench.e2e.cpu import local_broker_pid

REPO = Path(__file__).resolve().parents[3]
SCRIPT = str(REPO / "deploy" / "kafka" / "kafka.sh")

pytestmark = pytest.mark.integration


def _free_port_pair() -> int:
    """A port whose successor (the controller port) is free too."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free port pair")


def _run(command: str, port: int, run_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KAFKA_PORT=str(port), KAFKA_RUN_DIR=str(run_dir), PYTHON=sys.executable)
    return subprocess.run([SCRIPT, command], env=env, capture_output=True, text=True, timeout=180)


def test_a_taken_port_fails_fast_and_names_the_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = _run("up", port, tmp_path / "kafka")
    assert result.returncode != 0
    assert f"127.0.0.1:{port} is already taken" in result.stderr


def test_up_reuses_a_running_broker_detects_a_stale_one_and_down_stops_it(tmp_path: Path) -> None:
    port = _free_port_pair()
    run_dir = tmp_path / "kafka"
    run_dir.mkdir()
    # A pid file left by a broker that died (this pid has exited).
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run_dir / "kafka.pid").write_text(str(dead.pid))
    try:
        first = _run("up", port, run_dir)
        assert first.returncode == 0, first.stderr
        assert "stale pid file" in first.stderr
        assert "is up" in first.stderr

        again = _run("up", port, run_dir)
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr

        assert _run("status", port, run_dir).returncode == 0
        # The benchmarks find the broker they run against, to count its CPU.
        assert local_broker_pid(f"127.0.0.1:{port}") == int((run_dir / "kafka.pid").read_text())
    finally:
        stopped = _run("down", port, run_dir)
    assert stopped.returncode == 0
    assert _run("status", port, run_dir).returncode == 3
    assert local_broker_pid(f"127.0.0.1:{port}") is None
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
