from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.faust_app import create_faust_app
from libs.common.settings import CommonSettings, UnknownSettingError, check_environment


class GatewayLikeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONCIERGE_GATEWAY_")
    http_port: int = 8080


def test_defaults_point_at_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("CONCIERGE_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = CommonSettings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.http_host == "127.0.0.1"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19999")
    monkeypatch.setenv("CONCIERGE_TOPIC_PREFIX", "staging.")
    settings = CommonSettings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:19999"
    assert settings.topic_prefix == "staging."


def test_a_misspelt_setting_fails_fast_and_suggests_the_right_name() -> None:
    environ = {"CONCIERGE_KAFKA_BOOTSTRAP_SERVER": "127.0.0.1:9092"}
    with pytest.raises(UnknownSettingError) as raised:
        check_environment(environ=environ)
    message = str(raised.value)
    assert "CONCIERGE_KAFKA_BOOTSTRAP_SERVER" in message
    assert "did you mean CONCIERGE_KAFKA_BOOTSTRAP_SERVERS" in message


def test_a_service_checks_its_own_names_and_leaves_other_services_alone() -> None:
    environ = {"CONCIERGE_GATEWAY_HTTP_PORT": "8080", "CONCIERGE_DECISION_HTTP_PORT": "8094"}
    check_environment(GatewayLikeSettings, environ=environ)
    with pytest.raises(UnknownSettingError, match="CONCIERGE_GATEWAY_HTTP_PROT"):
        check_environment(GatewayLikeSettings, environ={"CONCIERGE_GATEWAY_HTTP_PROT": "1"})


def test_a_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_PARTITIONS", "zero")
    with pytest.raises(ValidationError, match="partitions"):
        CommonSettings()


def test_a_stages_producer_lingers_as_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONCIERGE_PRODUCER_LINGER_MS", "0")
    app = create_faust_app("intake", CommonSettings(), web_port=8093, data_dir=tmp_path)
    assert app.producer.linger_ms == 0  # what aiokafka's producer is built with
    monkeypatch.delenv("CONCIERGE_PRODUCER_LINGER_MS")
    shipped = create_faust_app("intake", CommonSettings(), web_port=8093, data_dir=tmp_path)
    assert shipped.producer.linger_ms == 5
