"""The operator CLI as a user runs it, against a real broker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_provision_then_smoke_round_trips_through_the_broker(
    kafka_bootstrap: str, unique_prefix: str
) -> None:
    env = {
        "CONCIERGE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CONCIERGE_TOPIC_PREFIX": unique_prefix,
    }
    provisioned = _cli("provision", **env)
    assert provisioned.returncode == 0, provisioned.stderr
    assert "0 drifted" in provisioned.stdout
    checked = _cli("provision", "--check", **env)
    assert checked.returncode == 0, checked.stdout
    smoke = _cli("smoke", "--messages", "20", **env)
    assert smoke.returncode == 0, smoke.stderr
    assert "sent 20, received 20" in smoke.stdout


def test_an_unreachable_broker_fails_fast_with_its_address() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _cli(
        "provision",
        CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}",
        CONCIERGE_BROKER_WAIT_SECONDS="2",
    )
    assert result.returncode == 1
    assert f"no Kafka broker answered at 127.0.0.1:{port} within 2s" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_misspelt_setting_stops_the_cli_with_a_hint() -> None:
    result = _cli("provision", CONCIERGE_KAFKA_BOOTSTRAP_SERVER="127.0.0.1:9092")
    assert result.returncode == 1
    assert "did you mean CONCIERGE_KAFKA_BOOTSTRAP_SERVERS" in result.stderr
