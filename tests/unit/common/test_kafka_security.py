"""Kafka security settings, the clients' options, and what a refusal says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import errors as kafka_errors
from faust.auth import SASLCredentials
from pydantic import SecretStr, ValidationError

from libs.common.faust_app import query_guard, unguarded_queries
from libs.common.kafka import connection
from libs.common.kafka_security import (
    Denial,
    client_security,
    denial_of,
    faust_credentials,
    principal,
)
from libs.common.settings import CommonSettings
from libs.common.worker import CONFIG_ERROR_EXIT

REPO = Path(__file__).resolve().parents[3]


def sasl(**overrides: Any) -> CommonSettings:
    values: dict[str, Any] = {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_username": "concierge-intake",
        "kafka_sasl_password": "s3cret-pw",
    }
    values.update(overrides)
    return CommonSettings(**values)


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    assert client_security(CommonSettings()) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(CommonSettings()) is None


def test_sasl_settings_become_every_clients_options() -> None:
    settings = sasl(kafka_sasl_mechanism="SCRAM-SHA-256")
    assert connection(settings) == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "concierge-intake",
        "sasl_plain_password": "s3cret-pw",
    }
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.mechanism.value == "SCRAM-SHA-256"
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert principal(settings) == "User:concierge-intake"


def test_sasl_ssl_carries_a_tls_context() -> None:
    options = client_security(sasl(kafka_security_protocol="SASL_SSL"))
    assert options["security_protocol"] == "SASL_SSL"
    assert options["ssl_context"].verify_mode.name == "CERT_REQUIRED"
    credentials = faust_credentials(sasl(kafka_security_protocol="SASL_SSL"))
    assert credentials is not None
    assert credentials.protocol.value == "SASL_SSL"


def test_the_password_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n")
    settings = sasl(kafka_sasl_password=SecretStr(""), kafka_sasl_password_file=secret)
    assert client_security(settings)["sasl_plain_password"] == "from-a-file"


def test_half_configured_security_fails_at_start_up() -> None:
    with pytest.raises(ValidationError, match="CONCIERGE_KAFKA_SASL_USERNAME is required"):
        sasl(kafka_sasl_username="")
    with pytest.raises(ValidationError, match="CONCIERGE_KAFKA_SASL_PASSWORD or"):
        sasl(kafka_sasl_password="")
    with pytest.raises(ValidationError, match="no file at"):
        sasl(kafka_ssl_cafile=Path("/nonexistent/ca.pem"))


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    settings = sasl()
    assert "s3cret-pw" not in repr(settings)
    with pytest.raises(ValidationError) as raised:
        sasl(kafka_sasl_username="", kafka_sasl_password="leaky-pw")
    assert "leaky-pw" not in str(raised.value)


@pytest.mark.parametrize(
    ("error", "operation", "expected"),
    [
        (kafka_errors.TopicAuthorizationFailedError("t.a"), "WRITE", ("WRITE", "topic t.a")),
        (
            kafka_errors.TopicAuthorizationFailedError({"t.b", "t.a"}),
            "READ",
            ("READ", "topic t.a, t.b"),
        ),
        (kafka_errors.GroupAuthorizationFailedError("g"), "WRITE", ("READ", "group g")),
        (kafka_errors.ClusterAuthorizationFailedError(), "WRITE", ("WRITE", "the cluster")),
        (
            kafka_errors.SaslAuthenticationFailed("invalid credentials"),
            "READ",
            ("AUTHENTICATE", "the brokers (invalid credentials)"),
        ),
    ],
)
def test_a_refusal_names_the_principal_operation_and_resource(
    error: BaseException, operation: str, expected: tuple[str, str]
) -> None:
    assert denial_of(error, "User:x", operation) == Denial("User:x", *expected)


def test_a_refusal_behind_another_error_is_found_and_transient_errors_are_not_refusals() -> None:
    outer = RuntimeError("send failed")
    outer.__cause__ = kafka_errors.TopicAuthorizationFailedError("t")
    assert denial_of(outer, "User:x", "WRITE") == Denial("User:x", "WRITE", "topic t")
    assert denial_of(kafka_errors.KafkaConnectionError("down"), "User:x", "WRITE") is None
    assert denial_of(kafka_errors.RequestTimedOutError(), "User:x", "WRITE") is None


def test_queries_need_the_token_only_when_one_is_set() -> None:
    def request(authorization: str | None) -> Any:
        headers = {} if authorization is None else {"Authorization": authorization}
        return SimpleNamespace(headers=headers)

    open_guard = query_guard(CommonSettings())
    assert open_guard(request(None))
    guard = query_guard(CommonSettings(query_token="tok-1"))
    assert guard(request("Bearer tok-1"))
    assert not guard(request(None))
    assert not guard(request("Bearer tok-2"))
    assert not guard(request("tok-1"))


@pytest.mark.parametrize(
    ("host", "token", "trusted", "refused"),
    [
        ("127.0.0.1", "", False, False),  # the default: only this machine reaches it
        ("::1", "", False, False),
        ("localhost", "", False, False),
        ("127.0.0.2", "", False, False),
        ("[::1]", "", False, False),
        ("LOCALHOST", "", False, False),
        ("::ffff:127.0.0.1", "", False, False),
        ("", "", False, True),  # every interface
        ("0.0.0.0", "", False, True),  # a container or a pod: the network reaches it
        ("::", "", False, True),
        ("10.1.2.3", "", False, True),
        ("decision-0.concierge", "", False, True),
        ("0.0.0.0", "tok-1", False, False),
        ("0.0.0.0", "", True, False),  # the operator says the network is trusted
    ],
)
def test_a_worker_beyond_loopback_must_guard_its_queries(
    host: str, token: str, trusted: bool, refused: bool
) -> None:
    settings = CommonSettings(http_host=host, query_token=token, query_open=trusted)
    problem = unguarded_queries(settings)
    assert (problem is not None) == refused
    if problem is not None:
        assert "CONCIERGE_QUERY_TOKEN" in problem
        assert (repr(host) if host else "every interface") in problem
        assert "CONCIERGE_QUERY_OPEN=true" in problem


def test_a_blank_query_token_is_refused_not_taken_for_a_guard() -> None:
    with pytest.raises(ValidationError, match="blank"):
        CommonSettings(query_token="  ")


def test_opening_to_a_trusted_network_does_not_drop_a_token_that_is_set() -> None:
    settings = CommonSettings(http_host="0.0.0.0", query_token="tok-1", query_open=True)
    assert unguarded_queries(settings) is None
    without_token: Any = SimpleNamespace(headers={})
    assert not query_guard(settings)(without_token)


def test_the_decision_worker_refuses_to_open_customers_contexts_to_the_network() -> None:
    # Before it reaches for any broker: the address below answers nothing.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "CONCIERGE_HTTP_HOST": "0.0.0.0",
        "CONCIERGE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "CONCIERGE_BROKER_WAIT_SECONDS": "1",
    }
    finished = subprocess.run(
        [sys.executable, "-m", "services.decision"],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == CONFIG_ERROR_EXIT, finished.stderr[-2000:]
    assert finished.stderr.startswith("concierge-decision: CONCIERGE_QUERY_TOKEN is empty")
    assert "broker" not in finished.stderr.lower()
