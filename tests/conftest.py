"""Test harness shared by every tier.

Broker selection for integration and end-to-end tests, in order:
1. ``KAFKA_BOOTSTRAP_SERVERS`` if set (a broker someone already runs);
2. testcontainers, when a Docker engine answers;
3. the local jars started by ``deploy/kafka/kafka.sh`` on a test-only port.
In CI (``CI=true``) a broker that can't be had is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames

REPO = Path(__file__).resolve().parent.parent
TEST_KAFKA_PORT = int(os.environ.get("CONCIERGE_TEST_KAFKA_PORT", "19092"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _no_broker(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI needs a Kafka broker and none could be had: {reason}", pytrace=False)
    pytest.skip(f"no Kafka broker: {reason}")


def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _probe(bootstrap: str, timeout: float) -> bool:
    probe = [
        sys.executable,
        "-m",
        "libs.common.broker_probe",
        "--bootstrap",
        bootstrap,
        "--timeout",
        str(timeout),
    ]
    return subprocess.run(probe, capture_output=True, cwd=REPO).returncode == 0


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    named = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if named:
        if not _probe(named, 30):
            _no_broker(f"KAFKA_BOOTSTRAP_SERVERS={named} does not answer")
        yield named
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.1.1").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    with local_broker(TEST_KAFKA_PORT, "kafka-test") as bootstrap:
        yield bootstrap


def local_run_dir(run_name: str, port: int) -> Path:
    return REPO / ".run" / f"{run_name}-{port}"


@contextmanager
def local_broker(port: int, run_name: str, **settings: str) -> Iterator[str]:
    """A broker from deploy/kafka/kafka.sh on ``port`` (``settings``: its KAFKA_*
    variables), with a fresh data dir: leftovers from an earlier run must not leak in."""
    env = dict(
        os.environ,
        KAFKA_PORT=str(port),
        PYTHON=sys.executable,
        KAFKA_RUN_DIR=str(local_run_dir(run_name, port)),
        **settings,
    )
    script = str(REPO / "deploy" / "kafka" / "kafka.sh")
    subprocess.run([script, "wipe"], env=env, capture_output=True, check=False)
    started = subprocess.run([script, "up"], env=env, capture_output=True, text=True)
    if started.returncode != 0:
        _no_broker(f"local broker failed to start: {started.stderr.strip()}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([script, "wipe"], env=env, capture_output=True, check=False)


@pytest.fixture
def unique_prefix() -> str:
    """Every test gets its own topic set and group ids."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def topic_names(unique_prefix: str) -> TopicNames:
    return TopicNames(prefix=unique_prefix)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, unique_prefix: str) -> CommonSettings:
    return CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=unique_prefix, partitions=2
    )


@pytest.fixture
async def provisioned(kafka_settings: CommonSettings) -> CommonSettings:
    """All contract and internal topics exist (with this test's prefix)."""
    from libs.common.provision import provision

    report = await provision(kafka_settings)
    assert report.ok, report
    return kafka_settings
