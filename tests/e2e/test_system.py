"""The stack started the way a user starts it (`concierge stack up`), driven over
Kafka and HTTP, observed the way downstream apps observe it; then stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from services.cli.stack import SERVICES
from tests.integration.gateway.support import SseReader
from tests.support.events import interaction
from tests.support.kafka_io import Consumed, consume_until, event_bytes, produce
from tests.support.stack import free_port

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@dataclass
class SystemUnderTest:
    env: dict[str, str]
    settings: CommonSettings
    run_dir: Path
    gateway: str

    @property
    def names(self) -> TopicNames:
        return TopicNames(self.settings.topic_prefix)

    def key(self, channel: str | None) -> str:
        keys: dict[str, dict[str, str]] = json.loads(
            (self.run_dir / "secrets" / "api-keys.json").read_text()
        )
        return next(k for k, grant in keys.items() if grant["channel"] == channel)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def system(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SystemUnderTest]:
    run_dir = tmp_path_factory.mktemp("system")
    prefix = f"e{uuid.uuid4().hex[:8]}."
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    env.update(
        CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        CONCIERGE_TOPIC_PREFIX=prefix,
        CONCIERGE_PARTITIONS="2",
        CONCIERGE_STACK_DIR=str(run_dir),
        CONCIERGE_LOG_FORMAT="json",
    )
    for spec in SERVICES:
        env[spec.port_variable] = str(free_port())
    sut = SystemUnderTest(
        env,
        CommonSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=prefix, partitions=2),
        run_dir,
        f"http://127.0.0.1:{env['CONCIERGE_GATEWAY_HTTP_PORT']}",
    )
    started = sut.cli("stack", "up", "--no-kafka")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield sut
    finally:
        sut.cli("stack", "down")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _post(sut: SystemUnderTest, channel: str, *events: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sut.gateway, timeout=30) as client:
        return await client.post("/v1/events", json=list(events), headers=_auth(sut.key(channel)))


async def test_a_frustrated_web_customer_gets_help_on_the_sse_stream_and_is_routed_on_the_phone(
    system: SystemUnderTest,
) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    async with (
        httpx.AsyncClient(base_url=system.gateway, timeout=None) as client,
        client.stream(
            "GET",
            "/v1/actions/stream",
            params={"channel": "web", "customer_id": customer},
            headers=_auth(system.key("web")),
        ) as response,
    ):
        assert response.status_code == 200
        reader = SseReader(response)
        await reader.next_event()  # the stream's opening position
        failures = [
            interaction(
                "checkout_failed", "web", {"customer_id": customer}, {"reason": "card_declined"}
            )
            for _ in range(2)
        ]
        posted = await _post(system, "web", *failures)
        assert posted.status_code == 202, posted.text
        help_event = await reader.next_action(timeout=60)
    action = json.loads(help_event.data or "{}")
    assert action["customer_id"] == customer
    assert action["channel"] == "web"
    assert action["action"]["kind"] in {"service", "routing"}
    assert action["trigger"]["event_id"] == failures[1]["event_id"]

    # The customer gives up and calls; the agent desktop asks at call start.
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as client:
        phone_key = _auth(system.key("phone"))
        nba = await client.get(
            f"/v1/customers/{customer}/next-best-action",
            params={"channel": "phone"},
            headers=phone_key,
        )
        assert nba.status_code == 200
        assert nba.json()["action"]["action"]["kind"] == "routing"

    # The contact centre publishes the call on Kafka.
    call = interaction("call_started", "phone", {"customer_id": customer})
    await produce(system.settings, [(system.names.interactions("phone"), None, event_bytes(call))])

    def routed(seen: list[Consumed]) -> bool:
        return any(r.json()["trigger"]["event_id"] == call["event_id"] for r in seen)

    seen = await consume_until(system.settings, [system.names.actions("phone")], routed)
    on_phone = next(r.json() for r in seen if r.json()["trigger"]["event_id"] == call["event_id"])
    assert on_phone["action"]["kind"] == "routing"
    assert on_phone["action"]["payload"]["context"]["frustration"]

    # The agent desktop sees the whole cross-channel story through the gateway.
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as client:
        response = await client.get(f"/v1/customers/{customer}/context", headers=phone_key)
        assert response.status_code == 200
        channels = {i["channel"] for i in response.json()["recent_interactions"]}
        assert channels == {"web", "phone"}


async def test_consent_withdrawn_over_http_reaches_outbound_tools_as_a_suppression(
    system: SystemUnderTest,
) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    granted = interaction(
        "consent_updated",
        "mobile",
        {"customer_id": customer},
        {"purpose": "marketing", "granted": True},
    )
    assert (await _post(system, "mobile", granted)).status_code == 202
    withdrawn = interaction(
        "consent_updated",
        "mobile",
        {"customer_id": customer},
        {"purpose": "marketing", "granted": False, "channel": "push"},
    )
    assert (await _post(system, "mobile", withdrawn)).status_code == 202

    def suppressed(seen: list[Consumed]) -> bool:
        return any(r.key == customer.encode() for r in seen)

    seen = await consume_until(system.settings, [system.names.suppressions], suppressed)
    suppression = next(r.json() for r in seen if r.key == customer.encode())
    assert suppression["reason"] == "consent_withdrawn"
    assert suppression["scope"]["channels"] == ["push"]
    assert suppression["detail"]


async def test_bad_input_over_http_is_refused_with_reasons_and_nothing_else_is_blocked(
    system: SystemUnderTest,
) -> None:
    customer = f"C-{uuid.uuid4().hex[:8]}"
    good = interaction("page_view", "web", {"customer_id": customer}, {"page_type": "help"})
    bad = interaction("page_view", "web", {"customer_id": customer}, {"page_type": "nowhere"})
    response = await _post(system, "web", bad, good)
    assert response.status_code == 202
    results = response.json()["results"]
    assert results[0]["status"] == "rejected"
    assert results[0]["error"]["code"] == "schema_violation"
    assert results[0]["error"]["path"] == "attributes.page_type"
    assert results[1]["status"] == "accepted"
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as client:
        wrong_channel = await client.post(
            "/v1/events", json=good, headers=_auth(system.key("phone"))
        )
        assert wrong_channel.status_code == 403
        assert (await client.post("/v1/events", json=good)).status_code == 401


def test_stack_down_leaves_no_process_behind(kafka_bootstrap: str, tmp_path: Path) -> None:
    """A second, private stack: up, then down, then nothing of it runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    env.update(
        CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        CONCIERGE_TOPIC_PREFIX=f"d{uuid.uuid4().hex[:8]}.",
        CONCIERGE_PARTITIONS="1",
        CONCIERGE_STACK_DIR=str(tmp_path),
    )
    for spec in SERVICES:
        env[spec.port_variable] = str(free_port())
    sut = SystemUnderTest(
        env, CommonSettings(kafka_bootstrap_servers=kafka_bootstrap), tmp_path, ""
    )
    assert sut.cli("stack", "up", "--no-kafka").returncode == 0
    pids = [int(p.read_text()) for p in (tmp_path / "pids").glob("*.pid")]
    assert len(pids) == len(SERVICES)
    children = [child.pid for pid in pids for child in psutil.Process(pid).children(recursive=True)]
    status = sut.cli("stack", "status")
    assert status.returncode == 0, status.stdout
    assert sut.cli("stack", "down").returncode == 0
    for pid in pids + children:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert sut.cli("stack", "status").returncode == 3
