"""docker-compose.yml can't run here (no Docker engine), so check it agrees with the code."""

from __future__ import annotations

import json
import tomllib
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
    assert _compose()["services"]["provision"]["command"] == ["provision"]


def test_kafka_keeps_its_log_on_a_named_volume_that_down_v_removes_with_the_tables() -> None:
    compose = _compose()
    kafka = compose["services"]["kafka"]
    (volume,) = kafka["volumes"]
    name, path = volume.split(":")
    assert name in compose["volumes"]
    assert kafka["environment"]["KAFKA_LOG_DIRS"] == path
    assert "docker compose down -v" in (REPO / "docker-compose.yml").read_text()


def _dockerfile_instruction(keyword: str) -> str:
    (line,) = [
        line.removeprefix(keyword).strip()
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.startswith(keyword + " ")
    ]
    return line


def test_the_image_runs_the_cli_serves_the_gateway_by_default_and_checks_readiness() -> None:
    assert json.loads(_dockerfile_instruction("ENTRYPOINT")) == ["concierge"]
    assert json.loads(_dockerfile_instruction("CMD")) == ["serve", "gateway"]
    health = _dockerfile_instruction("HEALTHCHECK")
    assert health.endswith('CMD ["concierge", "ready"]')
    # The entrypoint is the console script the package installs.
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["concierge"] == "services.cli.main:main"
    assert "-c constraints.txt" in _dockerfile_instruction("RUN")


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
        assert container["command"] == ["serve", spec.name]
    assert compose["gateway"]["ports"] == ["127.0.0.1:8080:8080"]
    # The decision worker's queries are open to this stack's network only because
    # no port of it is published (CONCIERGE_QUERY_OPEN, docs/operations.md).
    assert compose["decision"]["environment"]["CONCIERGE_QUERY_OPEN"] == "true"
    assert "ports" not in compose["decision"]


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
