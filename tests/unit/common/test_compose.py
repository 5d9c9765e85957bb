"""docker-compose.yml can't run here (no Docker engine), so check it agrees with the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

from libs.common.settings import CommonSettings, known_setting_names
from services.cli.stack import SERVICES
from services.decision.settings import DecisionSettings
from services.gateway.settings import GatewaySettings
from services.intake.settings import IntakeSettings

REPO = Path(__file__).resolve().parents[3]
SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "decision": DecisionSettings,
    "gateway": GatewaySettings,
}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def test_every_service_folder_has_a_container() -> None:
    service_dirs = {
        p.name
        for p in (REPO / "services").iterdir()
        if (p / "__main__.py").exists() and p.name not in {"cli", "simulator"}
    }
    assert service_dirs == set(SETTINGS)
    assert service_dirs <= set(_compose()["services"])


def test_kafka_is_the_official_image_in_kraft_mode_with_a_health_check() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in kafka
    assert _compose()["services"]["provision"]["command"][-1] == "provision"


def test_env_names_are_settings_the_services_know_and_ports_match_health_checks() -> None:
    compose = _compose()["services"]
    for spec in SERVICES:
        container = compose[spec.name]
        env = container["environment"]
        known = known_setting_names(CommonSettings, SETTINGS[spec.name])
        unknown = {name for name in env if name.startswith("CONCIERGE_")} - known
        assert not unknown, f"{spec.name}: {unknown}"
        port = env[spec.port_variable]
        assert f"127.0.0.1:{port}/ready" in " ".join(container["healthcheck"]["test"])
        assert container["command"] == ["python", "-m", spec.module]
    assert compose["gateway"]["ports"] == ["127.0.0.1:8080:8080"]


def test_the_two_stages_keep_their_tables_on_volumes_and_answer_the_gateways_queries() -> None:
    compose = _compose()
    services = compose["services"]
    for stage in ("intake", "decision"):
        (volume,) = services[stage]["volumes"]
        assert volume.split(":")[0] in compose["volumes"]
        data_dir = services[stage]["environment"][f"CONCIERGE_{stage.upper()}_DATA_DIR"]
        assert data_dir.startswith(volume.split(":")[1])
    gateway = services["gateway"]["environment"]
    assert gateway["CONCIERGE_GATEWAY_CONTEXT_URL"] == "http://decision:8094"
    assert gateway["CONCIERGE_GATEWAY_DECISION_URL"] == "http://decision:8094"
