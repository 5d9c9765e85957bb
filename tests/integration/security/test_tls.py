"""SASL over TLS: the clients and a Faust worker trust the brokers' CA; a client
that does not trust it is told so in one line."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from libs.common.access import Principals, acl_plan
from libs.common.acls import create_acls
from libs.common.provision import provision
from libs.common.topics import TopicNames
from libs.common.worker import CONFIG_ERROR_EXIT
from tests.integration.security.conftest import ADMIN, SecuredCluster, run_decision_as
from tests.support.kafka_io import produce
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration


async def test_the_stages_run_over_sasl_ssl(tls_cluster: SecuredCluster, tmp_path: Path) -> None:
    admin = tls_cluster.as_user(ADMIN, topic_prefix=f"t{uuid.uuid4().hex[:8]}.", partitions=2)
    names = TopicNames(admin.topic_prefix)
    assert (await provision(admin)).ok
    create_acls(admin, acl_plan(names, Principals()))
    web = tls_cluster.as_user("channel-web", topic_prefix=admin.topic_prefix)
    landed = await produce(web, [(names.interactions("web"), None, b"{}")])
    assert landed[0].topic == names.interactions("web")

    decision = tls_cluster.as_user(
        "concierge-decision", topic_prefix=admin.topic_prefix, partitions=2
    )
    with running_stack(decision, tmp_path, "decision") as stack:
        # Ready: joined its group and recovered its tables, over TLS.
        assert httpx.get(f"{stack.url('decision')}/ready", timeout=5).status_code == 200


def test_a_client_that_does_not_trust_the_brokers_ca_is_told_so(
    tls_cluster: SecuredCluster, tmp_path: Path
) -> None:
    untrusting = (
        tls_cluster._replace(cafile=None)
        .as_user("concierge-decision")
        .model_copy(update={"kafka_security_protocol": "SASL_SSL", "broker_wait_seconds": 5.0})
    )
    finished = run_decision_as(untrusting, tmp_path, CONCIERGE_BROKER_WAIT_SECONDS="5")
    assert finished.returncode == CONFIG_ERROR_EXIT, finished.stdout[-2000:]
    assert "CERTIFICATE_VERIFY_FAILED" in finished.stderr
    assert "CONCIERGE_KAFKA_SSL_CAFILE must name the CA" in finished.stderr
