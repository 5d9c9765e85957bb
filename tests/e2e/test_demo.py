"""README's first command, as a newcomer runs it (here without a terminal and
for a fixed duration): decisions show up, and nothing is left running."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from services.cli.stack import SERVICES
from tests.support.stack import free_port

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_the_demo_shows_actions_and_suppressions_with_reasons_then_stops_everything(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    env.update(
        CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        CONCIERGE_TOPIC_PREFIX=f"demo{uuid.uuid4().hex[:6]}.",
        CONCIERGE_PARTITIONS="2",
        CONCIERGE_STACK_DIR=str(tmp_path),
    )
    for spec in SERVICES:
        env[spec.port_variable] = str(free_port())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "demo",
            "--no-kafka",
            "--duration",
            "25",
            "--rate",
            "20",
            "--customers",
            "40",
            "--seed",
            "11",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    decisions = [
        line
        for line in lines
        if " | " in line
        and line.split()[0] in {"web", "phone", "mobile", "store", "all", "email", "sms", "push"}
    ]
    assert any("suppress active" in line for line in decisions), result.stdout[-3000:]
    assert any(kind in line for line in decisions for kind in ("service:", "routing:", "info:"))
    # Every shown decision says why, and how long it took from the event.
    assert all(line.split(" | ", 1)[1].strip() for line in decisions)
    assert any(line.rstrip().endswith(" ms") for line in decisions)
    assert "every service stopped" in result.stdout
    gateway = f"http://127.0.0.1:{env['CONCIERGE_GATEWAY_HTTP_PORT']}"
    assert f"web console: {gateway}/console/  (sign in with operator-" in result.stdout
    summary = lines[-1]
    assert summary.startswith("events sent ")
    pids = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert not pids
