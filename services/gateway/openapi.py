"""The gateway's OpenAPI document: FastAPI's, plus what FastAPI cannot know.

- The interaction/v1 event schema (the one published in
  schemas/interaction.v1.json, per-type attribute rules included) as a
  component, so `POST /v1/events` declares the real request, not any object.
- Refusals as `application/problem+json` (services.gateway.problems), where
  FastAPI would say `application/json` for every response model.

tests/integration/gateway/test_openapi_fuzz.py fuzzes the gateway against it.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from libs.contract.schema_export import generate
from services.gateway.api_models import INTERACTION_EVENT_REF, PROBLEM_MODELS
from services.gateway.problems import PROBLEM_MEDIA_TYPE

_JSON: Final = "application/json"
_COMPONENTS: Final = "#/components/schemas/"


def gateway_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        _add_interaction_event(document["components"]["schemas"])
        _declare_problems(document["paths"])
        app.openapi_schema = document
    return app.openapi_schema


def interaction_event_components() -> dict[str, Any]:
    """interaction/v1 and its definitions, as OpenAPI components (same dialect: 2020-12)."""
    schema = dict(generate()["interaction.v1.json"])
    schema.pop("$schema")
    _conditionals_as_alternatives(schema)
    definitions = schema.pop("$defs", {})
    text = json.dumps({**definitions, "InteractionEvent": schema})
    components: dict[str, Any] = json.loads(text.replace('"#/$defs/', f'"{_COMPONENTS}'))
    return components


def _conditionals_as_alternatives(schema: dict[str, Any]) -> None:
    """The per-type rules, `allOf` of `if type in N then R`, as the equivalent
    `anyOf` of `type in N and R`, plus "a custom type".

    Equivalent because the branches' type lists partition the known types and
    `type` must be a known or a custom one; written so because OpenAPI tools
    (schemathesis among them) generate data for `anyOf`, not for `if`.
    """
    type_schema = schema["properties"]["type"]
    known, custom = type_schema["anyOf"]
    alternatives: list[dict[str, Any]] = []
    covered: list[str] = []
    for rule in schema.pop("allOf"):
        names = rule["if"]["properties"]["type"]["enum"]
        covered.extend(names)
        properties = {"type": {"enum": names}, **rule["then"]["properties"]}
        alternatives.append({"properties": properties})
    if sorted(covered) != sorted(known["enum"]):
        raise ValueError("the per-type rules do not cover each known type exactly once")
    alternatives.append({"properties": {"type": custom}})
    schema["anyOf"] = alternatives


def _add_interaction_event(schemas: dict[str, Any]) -> None:
    name = INTERACTION_EVENT_REF.removeprefix(_COMPONENTS)
    for key, value in interaction_event_components().items():
        known = schemas.get(key)
        if known is not None and known != value and key != name:
            # Two models under one name (e.g. `Channel` from a query parameter):
            # one would silently describe the other's data.
            raise ValueError(f"OpenAPI component {key} is defined twice, differently")
        schemas[key] = value


def _declare_problems(paths: dict[str, Any]) -> None:
    problems = {f"{_COMPONENTS}{model.__name__}" for model in PROBLEM_MODELS}
    for operations in paths.values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                schema = content.get(_JSON, {}).get("schema", {})
                if schema.get("$ref") in problems:
                    content[PROBLEM_MEDIA_TYPE] = content.pop(_JSON)
