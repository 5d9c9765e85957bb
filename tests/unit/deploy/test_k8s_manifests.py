"""deploy/k8s renders (tests/unit/deploy/kustomize.py, the same output as
``kubectl kustomize``) and validates against the Kubernetes schemas offline
(kubernetes-validate bundles them); the manifests agree with the code: the
settings each service knows, the routes it serves, the topics and groups it uses."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from pydantic_settings import BaseSettings

from libs.common.health import HealthState, health_routes
from libs.common.lag import stage_group
from libs.common.settings import CommonSettings, known_setting_names
from libs.common.topics import TopicNames
from services.decision.settings import DecisionSettings
from services.gateway.settings import GatewaySettings
from services.intake.settings import IntakeSettings
from tests.unit.deploy.kustomize import Resource, render

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "decision": DecisionSettings,
    "gateway": GatewaySettings,
    "provision": CommonSettings,
}
# The oldest Kubernetes release still commonly run, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


@pytest.fixture(scope="module")
def overlay(tmp_path_factory: pytest.TempPathFactory) -> list[Resource]:
    """The example overlay, with its secrets filled from the committed templates."""
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy)
    for template in (copy / "overlays" / "example" / "secrets").glob("*.example"):
        shutil.copy(template, template.with_suffix(""))
    return render(copy / "overlays" / "example")


@pytest.fixture(scope="module")
def base() -> list[Resource]:
    return render(K8S / "base") + render(K8S / "autoscaling")


def _one(resources: list[Resource], kind: str, name: str) -> Resource:
    (found,) = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return found


def _workloads(resources: list[Resource]) -> dict[str, Resource]:
    return {
        r["metadata"]["labels"]["app.kubernetes.io/component"]: r
        for r in resources
        if r["kind"] in {"StatefulSet", "Deployment", "Job"}
    }


def _container(workload: Resource) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    (container,) = containers
    return container


def _config(resources: list[Resource]) -> dict[str, str]:
    data: dict[str, str] = _one(resources, "ConfigMap", "concierge-common")["data"]
    return data


def _common(resources: list[Resource]) -> CommonSettings:
    """The ConfigMap read as the services read their environment."""
    return CommonSettings.model_validate(
        {key.removeprefix("CONCIERGE_").lower(): v for key, v in _config(resources).items()}
    )


def test_every_built_in_object_validates_strictly_against_the_kubernetes_schemas(
    overlay: list[Resource], base: list[Resource]
) -> None:
    for resource in [*overlay, *base]:
        if resource["apiVersion"].startswith("keda.sh/"):
            continue  # a custom resource: checked against KEDA's fields below
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(resource, version, strict=True)


def test_a_schema_violation_is_caught() -> None:
    broken = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "x"},
        "spec": {"replicas": "two", "selector": {}, "template": {}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_stateful_stages_are_statefulsets_keeping_their_data_dir_on_a_volume(
    overlay: list[Resource],
) -> None:
    workloads = _workloads(overlay)
    for stage in ("intake", "decision"):
        statefulset = workloads[stage]
        assert statefulset["kind"] == "StatefulSet"
        (claim,) = statefulset["spec"]["volumeClaimTemplates"]
        container = _container(statefulset)
        mount = next(m for m in container["volumeMounts"] if m["name"] == claim["metadata"]["name"])
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[f"CONCIERGE_{stage.upper()}_DATA_DIR"].startswith(mount["mountPath"] + "/")
        headless = _one(overlay, "Service", statefulset["spec"]["serviceName"])
        assert headless["spec"]["clusterIP"] == "None"
    assert workloads["gateway"]["kind"] == "Deployment"
    hpa = _one(overlay, "HorizontalPodAutoscaler", "concierge-gateway")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    # The autoscaler owns the count: an apply must not reset it.
    assert "replicas" not in workloads["gateway"]["spec"]


def test_probes_ask_the_routes_each_service_serves_on_its_port(overlay: list[Resource]) -> None:
    served = {route.path for route in health_routes(HealthState("any"))}
    assert {"/health", "/ready"} <= served
    for service in ("intake", "decision", "gateway"):
        container = _container(_workloads(overlay)[service])
        assert container["args"] == ["serve", service]
        (port,) = container["ports"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert int(env[f"CONCIERGE_{service.upper()}_HTTP_PORT"]) == port["containerPort"]
        probes = {
            kind: container[kind]["httpGet"]
            for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        assert {kind: probe["path"] for kind, probe in probes.items()} == {
            "startupProbe": "/health",
            "livenessProbe": "/health",
            "readinessProbe": "/ready",
        }
        assert {probe["port"] for probe in probes.values()} == {port["name"]}
        # Recovery may take minutes: startup allows more than liveness would.
        startup = container["startupProbe"]
        liveness = container["livenessProbe"]
        assert (
            startup["periodSeconds"] * startup["failureThreshold"]
            > liveness["periodSeconds"] * liveness["failureThreshold"]
        )


def test_every_concierge_variable_is_a_setting_of_the_service_that_reads_it(
    overlay: list[Resource],
) -> None:
    config_map = set(_config(overlay))
    # The Secrets' keys as the overlay's templates fill them.
    secrets = {r["metadata"]["name"]: set(r["data"]) for r in overlay if r["kind"] == "Secret"}
    for component, workload in _workloads(overlay).items():
        container = _container(workload)
        names = {e["name"] for e in container.get("env", [])}
        for source in container["envFrom"]:
            if "configMapRef" in source:
                names |= config_map
            else:
                names |= secrets[source["secretRef"]["name"]]
        known = known_setting_names(CommonSettings, SETTINGS[component])
        unknown = {n for n in names if n.startswith("CONCIERGE_")} - known
        assert not unknown, f"{component}: {unknown}"
    # And the shared values are valid settings.
    assert _common(overlay).partitions == 12


def test_every_secret_a_pod_reads_is_generated_by_the_overlay_with_its_keys(
    overlay: list[Resource],
) -> None:
    generated = {r["metadata"]["name"]: r for r in overlay if r["kind"] == "Secret"}
    for workload in _workloads(overlay).values():
        pod = workload["spec"]["template"]["spec"]
        container = _container(workload)
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] in generated[ref["name"]]["data"], ref
        for source in container["envFrom"]:
            if "secretRef" in source:
                assert source["secretRef"]["name"] in generated
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in generated
    # The PII key and the API keys come from Secrets, never from plain values.
    intake = _container(_workloads(overlay)["intake"])
    assert "CONCIERGE_INTAKE_PII_KEY" not in {e["name"] for e in intake["env"]}
    intake_secrets = [s["secretRef"]["name"] for s in intake["envFrom"] if "secretRef" in s]
    assert "CONCIERGE_INTAKE_PII_KEY" in generated[intake_secrets[0]]["data"]
    gateway_env = {e["name"]: e for e in _container(_workloads(overlay)["gateway"])["env"]}
    assert "secretKeyRef" in gateway_env["CONCIERGE_GATEWAY_API_KEYS"]["valueFrom"]
    # The decision pods bind beyond loopback: their query token comes from the Secret
    # (left empty, they refuse to start), and nothing opens their queries without it.
    decision_env = {e["name"]: e for e in _container(_workloads(overlay)["decision"])["env"]}
    assert "secretKeyRef" in decision_env["CONCIERGE_QUERY_TOKEN"]["valueFrom"]
    assert "CONCIERGE_QUERY_OPEN" not in decision_env
    assert "CONCIERGE_QUERY_OPEN" not in _config(overlay)
    # KEDA's credentials and CA too.
    auth = _one(overlay, "TriggerAuthentication", "concierge-kafka-keda")
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["key"] in generated[ref["name"]]["data"], ref


def test_workloads_have_resources_and_the_long_running_ones_a_disruption_budget(
    overlay: list[Resource],
) -> None:
    budgets = [r for r in overlay if r["kind"] == "PodDisruptionBudget"]
    for component, workload in _workloads(overlay).items():
        resources = _container(workload)["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"])
        assert "memory" in resources["limits"]
        if workload["kind"] == "Job":
            continue
        labels = workload["spec"]["template"]["metadata"]["labels"]
        covering = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(covering) == 1, component


def test_the_provision_job_runs_the_clis_provision_command_with_the_overlays_image(
    overlay: list[Resource],
) -> None:
    job = _workloads(overlay)["provision"]
    container = _container(job)
    assert container["args"] == ["provision"]
    assert container["image"] == "registry.example.com/concierge:0.1.0"
    assert {_container(w)["image"] for w in _workloads(overlay).values()} == {
        "registry.example.com/concierge:0.1.0"
    }
    assert all(
        r["metadata"].get("namespace") == "concierge" for r in overlay if r["kind"] != "Namespace"
    )


@pytest.mark.parametrize("rendered", ["overlay", "base"])
def test_keda_scales_decision_on_its_groups_lag_up_to_the_partition_count(
    rendered: str, request: pytest.FixtureRequest
) -> None:
    resources: list[Resource] = request.getfixturevalue(rendered)
    settings = _common(resources)
    scaled = _one(resources, "ScaledObject", "concierge-decision")
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("StatefulSet", "concierge-decision")
    _one(resources, "StatefulSet", "concierge-decision")
    (trigger,) = scaled["spec"]["triggers"]
    metadata = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert metadata["bootstrapServers"] == settings.kafka_bootstrap_servers
    assert metadata["consumerGroup"] == stage_group(settings, "decision")
    assert metadata["topic"] == TopicNames(settings.topic_prefix).resolved
    assert metadata["allowIdleConsumers"] == "false"
    assert scaled["spec"]["maxReplicaCount"] == settings.partitions
    assert 1 <= scaled["spec"]["minReplicaCount"] <= settings.partitions
    auth = _one(resources, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]} <= {
        "sasl",
        "username",
        "password",
        "tls",
        "ca",
        "cert",
        "key",
    }
