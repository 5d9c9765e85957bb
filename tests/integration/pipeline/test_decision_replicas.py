"""Two replicas of the decision stage: either one answers a query for any
customer (it forwards to the partition's owner, at the URL that owner
advertises), with the query token; Faust's raw table and router views are gone."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka.partitioner import murmur2

from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from services.cli.stack import REPO
from tests.support.events import interaction
from tests.support.kafka_io import event_bytes, produce, wait_for
from tests.support.stack import free_port, running_stack

pytestmark = pytest.mark.integration

TOKEN = "replica-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def partition_of(customer_id: str, partitions: int) -> int:
    """Where the producers' default partitioner puts a customer's records."""
    hashed: int = murmur2(customer_id.encode())
    return (hashed & 0x7FFFFFFF) % partitions


def answers(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        status: int = httpx.get(url, headers=headers, timeout=5).status_code
        return status
    except httpx.HTTPError:
        return 0


async def test_either_replica_answers_for_every_customer(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"r{uuid.uuid4().hex[:8]}.",
        partitions=2,
        query_token=TOKEN,
    )
    names = TopicNames(settings.topic_prefix)
    assert (await provision(settings)).ok
    customers = [f"C-{number}" for number in range(6)]
    assert {partition_of(c, 2) for c in customers} == {0, 1}

    with running_stack(settings, tmp_path, "intake", "decision") as stack:
        second_port = free_port()
        env = stack.env_for(stack.spec("decision"))
        env["CONCIERGE_DECISION_HTTP_PORT"] = str(second_port)
        env["CONCIERGE_DECISION_DATA_DIR"] = str(tmp_path / "data" / "decision-2")
        env["CONCIERGE_DECISION_ADVERTISED_URL"] = f"http://127.0.0.1:{second_port}"
        log = (tmp_path / "logs" / "decision-2.log").open("ab")
        second = subprocess.Popen(  # noqa: ASYNC220 (a long-lived child, not awaited)
            [sys.executable, "-m", "services.decision"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        replicas = [stack.url("decision"), f"http://127.0.0.1:{second_port}"]
        try:
            await wait_for(
                lambda: all(answers(f"{url}/ready") == 200 for url in replicas),
                timeout=120,
                what="both replicas ready",
            )
            await produce(
                settings,
                [
                    (
                        names.interactions("web"),
                        None,
                        event_bytes(interaction("page_view", "web", {"customer_id": c})),
                    )
                    for c in customers
                ],
            )

            def every_query_answers() -> bool:
                return all(
                    answers(f"{url}/v1/customers/{c}/context", AUTH) == 200
                    for url in replicas
                    for c in customers
                )

            await wait_for(every_query_answers, timeout=90, what="every customer through both")
            for url in replicas:
                nba = f"{url}/v1/customers/{customers[0]}/next-best-action?channel=web"
                assert answers(nba, AUTH) == 200
                # Without the token (or with another), no answer, whoever owns the customer.
                for customer in customers[:2]:
                    context = f"{url}/v1/customers/{customer}/context"
                    assert answers(context) == 401
                    assert answers(context, {"Authorization": "Bearer wrong"}) == 401
                refused = httpx.get(f"{url}/v1/customers/{customers[0]}/context", timeout=5)
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert refused.json()["status"] == 401
                # Health, readiness and metrics need no token.
                assert answers(f"{url}/metrics") == 200
                # Faust's raw views are not served.
                for path in (
                    "/",
                    "/table/customer-contexts/",
                    f"/table/customer-contexts/{customers[0]}/",
                    "/router/",
                    "/graph/",
                    "/stats/",
                ):
                    assert answers(f"{url}{path}", AUTH) == 404, path
        finally:
            second.terminate()
            second.wait(timeout=30)
