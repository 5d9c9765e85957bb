"""Secured local brokers (deploy/kafka/kafka.sh, KAFKA_SECURITY=sasl or sasl_ssl):
SASL/SCRAM (over TLS with sasl_ssl), the standard authorizer, an admin super user
and one SCRAM user per principal."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from libs.common.access import SERVICES, Principals, acl_plan
from libs.common.acls import create_acls
from libs.common.kafka import create_consumer
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from services.cli.stack import REPO
from tests.conftest import TEST_KAFKA_PORT, local_broker, local_run_dir
from tests.support.stack import free_port, stack_env

# Beside the plain test broker (each controller takes the next port).
SECURE_PORT = int(os.environ.get("CONCIERGE_TEST_SECURE_KAFKA_PORT", str(TEST_KAFKA_PORT + 2)))
TLS_PORT = SECURE_PORT + 2
ADMIN = "admin"
# Every principal of the ACL plan, and one that no ACL names.
USERS = [f"concierge-{s}" for s in SERVICES] + [f"channel-{c.value}" for c in CHANNELS]
UNLISTED = "concierge-unlisted"


def password_of(user: str) -> str:
    return f"{user}-secret"


class SecuredCluster(NamedTuple):
    bootstrap: str
    # With TLS: the CA that signed the broker's certificate.
    cafile: Path | None = None

    def as_user(self, user: str, **overrides: object) -> CommonSettings:
        return CommonSettings(
            kafka_bootstrap_servers=self.bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT" if self.cafile is None else "SASL_SSL",
            kafka_ssl_cafile=self.cafile,
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username=user,
            kafka_sasl_password=password_of(user),
            **overrides,  # type: ignore[arg-type]
        )


async def read_values(
    settings: CommonSettings,
    topic: str,
    group: str | None,
    until: Callable[[list[bytes]], bool],
    timeout: float,
) -> list[bytes]:
    """The values on ``topic``, read as ``settings``' principal in ``group`` from the
    start, until ``until(values)`` or the deadline."""
    consumer = create_consumer(settings, topic, client_id="test-reader", group_id=group)
    values: list[bytes] = []
    try:
        await consumer.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and not until(values):
            for records in (await consumer.getmany(timeout_ms=250)).values():
                values.extend(r.value for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return values


def run_decision_as(
    settings: CommonSettings, tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """The decision worker run as ``settings``' principal until it exits by itself."""
    environment = stack_env(settings, tmp_path)
    environment["CONCIERGE_DECISION_DATA_DIR"] = str(tmp_path / "decision")
    environment["CONCIERGE_DECISION_HTTP_PORT"] = str(free_port())
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "services.decision"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def secured_broker(port: int, security: str) -> Iterator[str]:
    users = " ".join(f"{user}:{password_of(user)}" for user in [*USERS, UNLISTED])
    with local_broker(
        port,
        f"kafka-test-{security}",
        KAFKA_SECURITY=security,
        KAFKA_ADMIN_USER=ADMIN,
        KAFKA_ADMIN_PASSWORD=password_of(ADMIN),
        KAFKA_SCRAM_USERS=users,
    ) as bootstrap:
        yield bootstrap


# Torn down after these tests: no third broker for the rest of the session.
@pytest.fixture(scope="package")
def secured_cluster() -> Iterator[SecuredCluster]:
    with secured_broker(SECURE_PORT, "sasl") as bootstrap:
        yield SecuredCluster(bootstrap)


@pytest.fixture(scope="module")
def tls_cluster() -> Iterator[SecuredCluster]:
    with secured_broker(TLS_PORT, "sasl_ssl") as bootstrap:
        ca = local_run_dir("kafka-test-sasl_ssl", TLS_PORT) / "tls" / "ca.pem"
        yield SecuredCluster(bootstrap, ca)


@pytest.fixture
async def secured(secured_cluster: SecuredCluster) -> tuple[SecuredCluster, CommonSettings]:
    """This test's topics, created by the admin, with the ACLs of the contract."""
    admin = secured_cluster.as_user(ADMIN, topic_prefix=f"s{uuid.uuid4().hex[:8]}.", partitions=2)
    assert (await provision(admin)).ok
    create_acls(admin, acl_plan(TopicNames(admin.topic_prefix), Principals()))
    return secured_cluster, admin
