"""The image's health check finds the service listening in its container and asks /ready."""

from __future__ import annotations

import pytest

from services.cli.container import probe_container, service_named


def _statuses(answers: dict[str, int]):
    def get_status(url: str) -> int | None:
        return answers.get(url)

    return get_status


def test_the_service_listening_on_its_configured_port_decides() -> None:
    env = {"CONCIERGE_DECISION_HTTP_PORT": "9100"}
    ready = probe_container(env, _statuses({"http://127.0.0.1:9100/ready": 200}))
    assert ready.ready
    assert ready.detail == "ready: decision"
    recovering = probe_container(env, _statuses({"http://127.0.0.1:9100/ready": 503}))
    assert not recovering.ready
    assert recovering.detail == "decision answered 503"


def test_default_ports_apply_when_no_port_is_set() -> None:
    assert probe_container({}, _statuses({"http://127.0.0.1:8080/ready": 200})).ready


def test_nothing_listening_is_not_ready() -> None:
    result = probe_container({}, _statuses({}))
    assert not result.ready
    assert "no Concierge service listens" in result.detail


def test_serve_names_the_services_it_knows() -> None:
    assert service_named("intake").module == "services.intake"
    with pytest.raises(ValueError, match="one of: intake, decision, gateway"):
        service_named("billing")
