"""Render a kustomization the way ``kubectl kustomize`` does, for the subset of
kustomize deploy/k8s uses, so CI can validate the manifests without a kustomize
binary. A kustomization field outside the subset is an error, never ignored:
a new field in deploy/k8s needs support here (and a comparison with
``kubectl kustomize``, docs/operations.md, "Production deployment").

Supported: resources (files and directories), namespace, labels (without
selectors), images, replicas, configMapGenerator and secretGenerator (literals,
envs, files; behavior create or merge) with hash suffixes disabled, and
patches on custom resources (JSON merge patch, RFC 7386, what kustomize
applies to kinds it has no strategic-merge schema for).
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]
SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "replicas",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "patches",
}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
# Kinds kustomize patches by strategic merge; our patches stay on custom resources.
BUILT_IN_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2"}


class UnsupportedKustomization(ValueError):
    pass


def render(directory: Path) -> list[Resource]:
    spec: dict[str, Any] = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise UnsupportedKustomization(f"{directory}: unsupported fields {sorted(unknown)}")
    generates = "configMapGenerator" in spec or "secretGenerator" in spec
    if generates and not spec.get("generatorOptions", {}).get("disableNameSuffixHash", False):
        raise UnsupportedKustomization(f"{directory}: name suffix hashes are not supported")

    resources: list[Resource] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            resources.extend(render(path))
        else:
            resources.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    for generator in spec.get("configMapGenerator", []):
        _generate(resources, directory, generator, "ConfigMap")
    for generator in spec.get("secretGenerator", []):
        _generate(resources, directory, generator, "Secret")
    for patch in spec.get("patches", []):
        _patch(resources, yaml.safe_load((directory / patch["path"]).read_text()))
    for label in spec.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise UnsupportedKustomization("labels on selectors or templates")
        for resource in resources:
            resource.setdefault("metadata", {}).setdefault("labels", {}).update(label["pairs"])
    for image in spec.get("images", []):
        for resource in resources:
            _set_image(resource, image)
    for replicas in spec.get("replicas", []):
        (target,) = [
            r
            for r in resources
            if r["metadata"]["name"] == replicas["name"]
            and r["kind"] in {"Deployment", "StatefulSet"}
        ]
        target["spec"]["replicas"] = replicas["count"]
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def _generate(
    resources: list[Resource], directory: Path, generator: dict[str, Any], kind: str
) -> None:
    data: dict[str, str] = {}
    for literal in generator.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    for env_file in generator.get("envs", []):
        for line in (directory / env_file).read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                data[key] = value
    for file_entry in generator.get("files", []):
        key, _, source = file_entry.partition("=")
        data[key] = (directory / source).read_text()
    behavior = generator.get("behavior", "create")
    existing = [
        r for r in resources if r["kind"] == kind and r["metadata"]["name"] == generator["name"]
    ]
    if behavior == "merge":
        (target,) = existing
        if kind == "Secret":
            data = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        target["data"].update(data)
        return
    if behavior != "create" or existing:
        raise UnsupportedKustomization(f"{kind} {generator['name']}: behavior {behavior}")
    resource: Resource = {"apiVersion": "v1", "kind": kind, "metadata": {"name": generator["name"]}}
    if kind == "Secret":
        resource["type"] = generator.get("type", "Opaque")
        resource["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    else:
        resource["data"] = data
    resources.append(resource)


def _patch(resources: list[Resource], patch: Resource) -> None:
    if patch["apiVersion"] in BUILT_IN_GROUPS:
        raise UnsupportedKustomization(f"strategic-merge patch of {patch['kind']}")
    (target,) = [
        r
        for r in resources
        if r["kind"] == patch["kind"] and r["metadata"]["name"] == patch["metadata"]["name"]
    ]
    merged = _merge_patch(target, patch)
    target.clear()
    target.update(merged)


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _set_image(node: Any, image: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"containers", "initContainers"} and isinstance(value, list):
                for container in value:
                    name = container["image"].split("@")[0].rsplit(":", 1)[0]
                    if name == image["name"]:
                        new_name = image.get("newName", name)
                        container["image"] = (
                            f"{new_name}:{image['newTag']}" if "newTag" in image else new_name
                        )
            else:
                _set_image(value, image)
    elif isinstance(node, list):
        for item in node:
            _set_image(item, image)
