"""The whole pipeline under SASL/SCRAM and ACLs, each service as its own principal;
a service whose principal lacks its ACLs stops with one line and exit code 77."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import orjson
import pytest
from pydantic import SecretStr

from libs.common.access import (
    Grant,
    Operation,
    Pattern,
    Resource,
    channel_group_prefix,
    grants_for,
    service_uses,
)
from libs.common.acls import create_acls
from libs.common.guard import EXIT_KAFKA_DENIED
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from libs.contract.common import Channel
from libs.contract.interaction import InteractionEvent
from libs.pipeline.envelopes import ResolvedRecord
from services.cli.stack import REPO
from tests.integration.security.conftest import (
    UNLISTED,
    SecuredCluster,
    password_of,
    read_values,
    run_decision_as,
)
from tests.support.events import interaction
from tests.support.journey import decisions_made
from tests.support.kafka_io import event_bytes, produce, wait_for
from tests.support.stack import free_port, running_stack, stack_env

pytestmark = pytest.mark.integration

TOKEN = "secured-query-token"


def principal_env(user: str) -> dict[str, str]:
    return {
        "CONCIERGE_KAFKA_SASL_USERNAME": user,
        "CONCIERGE_KAFKA_SASL_PASSWORD": password_of(user),
    }


async def test_the_pipeline_runs_with_a_principal_per_service(
    secured: tuple[SecuredCluster, CommonSettings], tmp_path: Path
) -> None:
    cluster, admin = secured
    names = TopicNames(admin.topic_prefix)
    # The base environment carries no usable principal: each service gets its own.
    base = cluster.as_user(
        UNLISTED, topic_prefix=admin.topic_prefix, partitions=2, query_token=TOKEN
    )
    services = ("intake", "decision", "gateway")
    per_service = {name: principal_env(f"concierge-{name}") for name in services}
    with running_stack(base, tmp_path, *services, service_env=per_service) as stack:
        web = cluster.as_user("channel-web", topic_prefix=admin.topic_prefix)
        customer = "C-secured-1"
        complaint = interaction(
            "complaint_opened", "web", {"customer_id": customer}, {"case_id": "K-1"}
        )
        await produce(web, [(names.interactions("web"), None, event_bytes(complaint))])
        # The channel's own outputs come back to it, read in its own group name space.
        group = f"{channel_group_prefix(names, Channel.web)}-banner"

        def for_customer(values: list[bytes]) -> bool:
            return any(orjson.loads(value)["customer_id"] == customer for value in values)

        for topic in (names.actions("web"), names.suppressions):
            seen = await read_values(web, topic, group, for_customer, timeout=90)
            assert for_customer(seen), f"nothing for {customer} on {topic}"
        assert decisions_made(stack) >= 1

        keys = json.loads(stack.base_env["CONCIERGE_GATEWAY_API_KEYS"])
        web_key = next(key for key, grant in keys.items() if grant["channel"] == "web")

        def context_through_gateway() -> bool:
            response = httpx.get(
                f"{stack.url('gateway')}/v1/customers/{customer}/context",
                headers={"Authorization": f"Bearer {web_key}"},
                timeout=5,
            )
            return response.status_code == 200

        # Gateway -> decision worker, with the query token the gateway holds.
        await wait_for(context_through_gateway, timeout=60, what="the context via the gateway")
        # Ingest through the gateway, as its own principal.
        posted = httpx.post(
            f"{stack.url('gateway')}/v1/events",
            headers={"Authorization": f"Bearer {web_key}"},
            json=interaction("page_view", "web", {"customer_id": customer}),
            timeout=10,
        )
        assert posted.status_code in {200, 202}, posted.text


def denial_line(returncode: int, output: str) -> dict[str, object]:
    """The one ``kafka_access_denied`` line of a process that exited with 77."""
    assert returncode == EXIT_KAFKA_DENIED, output[-3000:]
    denied = [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and "kafka_access_denied" in line
    ]
    assert len(denied) == 1, output[-3000:]
    line: dict[str, object] = denied[0]
    return line


def start_decision_as(settings: CommonSettings, tmp_path: Path) -> tuple[dict[str, object], str]:
    """Start the decision worker as ``settings``' principal; its denial line and output."""
    finished = run_decision_as(settings, tmp_path)
    output = finished.stdout + finished.stderr
    return denial_line(finished.returncode, finished.stdout), output


def test_a_service_without_its_acls_stops_with_one_line(
    secured: tuple[SecuredCluster, CommonSettings], tmp_path: Path
) -> None:
    cluster, admin = secured
    unlisted = cluster.as_user(UNLISTED, topic_prefix=admin.topic_prefix, partitions=2)
    line, output = start_decision_as(unlisted, tmp_path)
    assert line["principal"] == f"User:{UNLISTED}"
    assert line["operation"] == "DESCRIBE"
    assert names_in(str(line["resource"])) >= {TopicNames(admin.topic_prefix).resolved}
    assert password_of(UNLISTED) not in output


def names_in(resource: str) -> set[str]:
    return {name.strip() for name in resource.removeprefix("topic ").split(",")}


def test_a_wrong_password_stops_with_one_line(
    secured: tuple[SecuredCluster, CommonSettings], tmp_path: Path
) -> None:
    cluster, admin = secured
    wrong = cluster.as_user("concierge-decision", topic_prefix=admin.topic_prefix).model_copy(
        update={"kafka_sasl_password": SecretStr("not-the-password")}
    )
    line, output = start_decision_as(wrong, tmp_path)
    assert line["principal"] == "User:concierge-decision"
    assert line["operation"] == "AUTHENTICATE"
    assert "not-the-password" not in output


def _denied_at_run_time(
    cluster: SecuredCluster,
    admin: CommonSettings,
    tmp_path: Path,
    service: str,
    left_out: Grant,
    trigger: Callable[[str, dict[str, str]], None],
    added: Sequence[Grant] = (),
) -> dict[str, object]:
    """Run ``service`` as a principal with its ACLs but ``left_out`` (and with
    ``added``), call ``trigger(its url, its environment)``, and return its one
    denial line."""
    names = TopicNames(admin.topic_prefix)
    grants = [
        grant._replace(principal=f"User:{UNLISTED}")
        for grant in grants_for(f"User:concierge-{service}", service_uses(names, service))
        if grant != left_out
    ]
    create_acls(admin, [*grants, *added])
    worker = cluster.as_user(UNLISTED, topic_prefix=admin.topic_prefix, partitions=2)
    env = stack_env(worker, tmp_path)
    port = free_port()
    env[f"CONCIERGE_{service.upper()}_HTTP_PORT"] = str(port)
    env[f"CONCIERGE_{service.upper()}_DATA_DIR"] = str(tmp_path / service)
    if service == "gateway":
        env.pop("CONCIERGE_GATEWAY_DATA_DIR")
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{service}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        trigger(f"http://127.0.0.1:{port}", env)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    return denial_line(process.returncode, output)


def _send_a_resolved_event(admin: CommonSettings) -> Callable[[str, dict[str, str]], None]:
    def send(url: str, env: dict[str, str]) -> None:
        event = InteractionEvent.model_validate(
            interaction("page_view", "web", {"customer_id": "C-denied-1"})
        )
        resolved = ResolvedRecord(kind="event", customer_id="C-denied-1", event=event)
        names = TopicNames(admin.topic_prefix)
        asyncio.run(produce(admin, [(names.resolved, b"C-denied-1", resolved.to_bytes())]))

    return send


@pytest.mark.parametrize(
    ("left_out", "operation", "resource"),
    [
        # Its changelogs: the first table write of the first event.
        (
            (Operation.WRITE, Resource.TOPIC, "concierge-decision-", Pattern.PREFIXED),
            "WRITE",
            "topic concierge-decision-",
        ),
        # Its consumer group: joining it.
        (
            (Operation.READ, Resource.GROUP, "concierge-decision", Pattern.LITERAL),
            "READ",
            "group concierge-decision",
        ),
        # Its input (still visible): fetching from it.
        (
            (Operation.READ, Resource.TOPIC, "concierge.internal.resolved", Pattern.LITERAL),
            "READ",
            "topic concierge.internal.resolved",
        ),
    ],
    ids=["changelog-write", "group", "input-read"],
)
def test_a_stage_refused_at_run_time_stops_with_one_line(
    secured: tuple[SecuredCluster, CommonSettings],
    tmp_path: Path,
    left_out: tuple[Operation, Resource, str, Pattern],
    operation: str,
    resource: str,
) -> None:
    cluster, admin = secured
    prefix = admin.topic_prefix
    op, kind, name, pattern = left_out
    refused = Grant("User:concierge-decision", op, kind, prefix + name, pattern)
    # Still allowed to see the resource: the start-up check passes, the work is refused.
    visible = Grant(f"User:{UNLISTED}", Operation.DESCRIBE, kind, prefix + name, pattern)
    line = _denied_at_run_time(
        cluster,
        admin,
        tmp_path,
        "decision",
        refused,
        _send_a_resolved_event(admin),
        [visible],
    )
    assert line["principal"] == f"User:{UNLISTED}"
    assert line["operation"] == operation
    kind_word, _, named = resource.partition(" ")
    assert str(line["resource"]).startswith(f"{kind_word} {prefix}{named}")


def _store_key_once_ready(url: str, env: dict[str, str]) -> str:
    """The store channel's API key, once the gateway at ``url`` is ready."""
    keys = json.loads(env["CONCIERGE_GATEWAY_API_KEYS"])
    deadline = time.monotonic() + 60
    while not _answers(f"{url}/ready"):
        assert time.monotonic() < deadline, "the gateway did not get ready"
        time.sleep(0.2)
    key: str = next(key for key, grant in keys.items() if grant["channel"] == "store")
    return key


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _post_a_store_event(url: str, env: dict[str, str]) -> None:
    store_key = _store_key_once_ready(url, env)
    event = interaction("store_visit", "store", {"customer_id": "C-1"}, {"store_id": "S-1"})
    with contextlib.suppress(httpx.HTTPError):  # it may exit before it answers
        httpx.post(
            f"{url}/v1/events",
            headers={"Authorization": f"Bearer {store_key}"},
            json=event,
            timeout=30,
        )


def _stream_store_actions(url: str, env: dict[str, str]) -> None:
    store_key = _store_key_once_ready(url, env)
    # It exits while the stream is open.
    with (
        contextlib.suppress(httpx.HTTPError),
        httpx.stream(
            "GET",
            f"{url}/v1/actions/stream?channel=store",
            headers={"Authorization": f"Bearer {store_key}"},
            timeout=30,
        ) as response,
    ):
        for _ in response.iter_bytes():
            pass


@pytest.mark.parametrize(
    ("operation", "topic_of", "trigger"),
    [
        (Operation.WRITE, lambda names: names.interactions("store"), _post_a_store_event),
        (Operation.READ, lambda names: names.actions("store"), _stream_store_actions),
    ],
    ids=["ingest", "action-stream"],
)
def test_a_gateway_refused_a_channels_topic_stops_with_one_line(
    secured: tuple[SecuredCluster, CommonSettings],
    tmp_path: Path,
    operation: Operation,
    topic_of: Callable[[TopicNames], str],
    trigger: Callable[[str, dict[str, str]], None],
) -> None:
    cluster, admin = secured
    topic = topic_of(TopicNames(admin.topic_prefix))
    left_out = Grant("User:concierge-gateway", operation, Resource.TOPIC, topic)
    # It may still see the topic: the start-up check passes, the request is refused.
    describe = Grant(f"User:{UNLISTED}", Operation.DESCRIBE, Resource.TOPIC, topic)
    line = _denied_at_run_time(cluster, admin, tmp_path, "gateway", left_out, trigger, [describe])
    assert line["principal"] == f"User:{UNLISTED}"
    assert line["operation"] == operation.value
    assert line["resource"] == f"topic {topic}"
