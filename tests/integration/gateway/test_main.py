"""`python -m services.gateway` as an operator starts it: fail fast, log no secrets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from libs.common.settings import CommonSettings
from libs.contract.common import Channel
from libs.contract.examples import example_interaction
from tests.integration.gateway.support import (
    API_KEYS,
    OPERATOR_KEY,
    PHONE_KEY,
    WEB_KEY,
    auth,
    closed_port,
    until,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without any CONCIERGE_* names, plus `settings`."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("CONCIERGE_") and name != "KAFKA_BOOTSTRAP_SERVERS"
    }
    return {**clean, **settings}


async def run_to_exit(env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.gateway",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


async def test_a_bad_setting_fails_fast_with_one_line() -> None:
    code, stderr = await run_to_exit(environment(CONCIERGE_GATEWAY_HTTP_PORT="eighty"))
    assert code == 2
    assert stderr.strip().count("\n") == 0
    assert stderr.startswith("concierge-gateway: invalid settings: CONCIERGE_GATEWAY_HTTP_PORT")


async def test_a_misspelt_setting_fails_fast_and_names_the_right_one() -> None:
    code, stderr = await run_to_exit(environment(CONCIERGE_GATEWAY_HTTP_PROT="8080"))
    assert code == 2
    assert "did you mean CONCIERGE_GATEWAY_HTTP_PORT" in stderr


async def test_a_taken_port_fails_fast_naming_the_address() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, stderr = await run_to_exit(environment(CONCIERGE_GATEWAY_HTTP_PORT=str(port)))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in stderr


async def test_an_unreachable_broker_fails_fast_naming_it() -> None:
    bootstrap = f"127.0.0.1:{closed_port()}"
    code, stderr = await run_to_exit(
        environment(
            CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            CONCIERGE_BROKER_WAIT_SECONDS="1",
            CONCIERGE_GATEWAY_HTTP_PORT=str(closed_port()),
        )
    )
    assert code == 2
    assert f"no Kafka broker answered at {bootstrap}" in stderr
    assert stderr.strip().count("\n") == 0


async def test_raw_phone_numbers_emails_and_keys_never_reach_the_log(
    provisioned: CommonSettings, tmp_path: Path
) -> None:
    port = closed_port()
    env = environment(
        CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=provisioned.kafka_bootstrap_servers,
        CONCIERGE_TOPIC_PREFIX=provisioned.topic_prefix,
        CONCIERGE_LOG_LEVEL="DEBUG",
        CONCIERGE_LOG_FORMAT="json",
        CONCIERGE_GATEWAY_HTTP_PORT=str(port),
        CONCIERGE_GATEWAY_API_KEYS=json.dumps(API_KEYS),
    )
    log_path = tmp_path / "gateway.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.gateway",
            cwd=REPO,
            env=env,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
    phones = ["+442079460958", "+44 20 7946 0001", "+44 (0) 20 7946 0002"]
    emails = ["Jane.Doe@example.com", "bob@example.org", "not-an-email@@example"]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

            async def up() -> bool:
                try:
                    return (await client.get("/ready")).status_code == 200
                except httpx.TransportError:
                    assert process.returncode is None, log_path.read_text()
                    return False

            await until(up, timeout=60, interval=0.1)
            identify = example_interaction("identify", channel=Channel.phone)
            identify["identity"] = {"phone": phones[0], "email": emails[0]}
            calls = []
            for number, (phone, email) in enumerate(zip(phones, emails, strict=True)):
                record = example_interaction("call_started", event_id=f"evt-pii-{number}")
                record["identity"] = {"phone": phone, "email": email}
                calls.append(record)
            future = example_interaction("call_started", event_id="evt-pii-future")
            future["identity"] = {"phone": phones[1]}
            future["occurred_at"] = "2999-01-01T00:00:00Z"
            headers = {"Content-Type": "application/json"}
            accepted = await client.post(
                "/v1/events",
                content=orjson.dumps([identify, *calls, future]),
                headers={**headers, **auth(PHONE_KEY)},
            )
            assert accepted.status_code == 202, accepted.text
            assert accepted.json()["rejected"] == 2  # the "(0)" phone, the future one
            refused = await client.post(
                "/v1/events", content=orjson.dumps(calls), headers={**headers, **auth(WEB_KEY)}
            )
            assert refused.status_code == 403
            wrong_key = await client.post(
                "/v1/events", content=b"{}", headers={**headers, **auth(OPERATOR_KEY[::-1])}
            )
            assert wrong_key.status_code == 401
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    log = log_path.read_text()
    assert "gateway_started" in log, log
    assert "events_ingested" in log, log
    secrets = [*phones, *emails, "7946", "jane.doe", *API_KEYS, OPERATOR_KEY[::-1]]
    written = without_generated_values(log, provisioned.topic_prefix, str(port))
    leaked = [secret for secret in secrets if secret.lower() in written.lower()]
    assert not leaked, f"leaked {leaked}"


def without_generated_values(log: str, *generated: str) -> str:
    """The log less each line's timestamp and the values the test made up (topic
    prefix, port): their random digits once spelt "7946", a phone number's
    fragment, in a timestamp's microseconds (14:55:53.794628)."""
    lines = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            lines.append(line)  # not a JSON line: checked whole
            continue
        if isinstance(record, dict):
            record.pop("timestamp", None)
        lines.append(json.dumps(record))
    text = "\n".join(lines)
    for value in generated:
        text = text.replace(value, "")
    return text
