"""The OpenAPI document declares the real request and the real refusals."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest

from libs.contract.examples import example_interaction
from libs.contract.schema_export import DEFAULT_OUT_DIR
from libs.contract.vocabulary import EVENT_TYPES
from services.gateway.app import create_app
from services.gateway.openapi import interaction_event_components
from services.gateway.resume import TOKEN_PATTERN, encode_token
from services.gateway.settings import GatewaySettings

PUBLISHED = json.loads((DEFAULT_OUT_DIR / "interaction.v1.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(GatewaySettings(max_batch=7)).openapi()


def in_document(
    document: dict[str, Any], schema: dict[str, Any]
) -> jsonschema_rs.Draft202012Validator:
    """A validator for `schema`, resolving `#/components/...` in `document`."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})


def events_body(document: dict[str, Any]) -> dict[str, Any]:
    body = document["paths"]["/v1/events"]["post"]["requestBody"]
    schema: dict[str, Any] = body["content"]["application/json"]["schema"]
    return schema


def test_empty_events_are_not_declared_valid(document: dict[str, Any]) -> None:
    body = in_document(document, events_body(document))
    assert not body.is_valid([{}, {}])
    assert not body.is_valid({})
    assert not body.is_valid([])
    assert body.is_valid([example_interaction("page_view")])
    assert body.is_valid(example_interaction("call_abandoned"))


def test_a_batch_is_declared_up_to_the_configured_size(document: dict[str, Any]) -> None:
    body = in_document(document, events_body(document))
    assert body.is_valid([example_interaction("page_view")] * 7)
    assert not body.is_valid([example_interaction("page_view")] * 8)


def cases() -> list[dict[str, Any]]:
    """Every known type as valid, then broken per type, plus custom types."""
    found: list[dict[str, Any]] = []
    for name in EVENT_TYPES:
        valid = example_interaction(str(name))
        found.append(valid)
        found.append({**valid, "attributes": {"order_id": 5, "case_id": [], "store_id": 1}})
        for channel in ("web", "phone", "mobile", "store"):
            found.append({**valid, "channel": channel})
    custom = example_interaction("page_view")
    found.append({**custom, "type": "x-loyalty-scan", "attributes": {"anything": 1}})
    found.append({**custom, "type": "teleported"})
    return found


def test_the_declared_event_is_the_published_schema() -> None:
    """The per-type rules, rewritten as alternatives, judge every case as the file does."""
    components = interaction_event_components()
    declared = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/InteractionEvent", "components": {"schemas": components}}
    )
    published = jsonschema_rs.Draft202012Validator(PUBLISHED)
    verdicts = [(declared.is_valid(case), published.is_valid(case)) for case in cases()]
    assert all(mine == theirs for mine, theirs in verdicts)
    assert {mine for mine, _ in verdicts} == {True, False}  # both kinds were judged


def test_a_resume_token_is_declared_as_the_gateway_reads_it(document: dict[str, Any]) -> None:
    stream = document["paths"]["/v1/actions/stream"]["get"]
    (header,) = [p for p in stream["parameters"] if p["name"] == "Last-Event-ID"]
    token = in_document(document, header["schema"])
    assert header["schema"]["pattern"] == TOKEN_PATTERN
    assert token.is_valid(encode_token({0: 12, 1: 7}))
    assert not token.is_valid("")
    assert not token.is_valid("p0:12;p1:7")


def test_refusals_are_declared_as_problem_details(document: dict[str, Any]) -> None:
    not_problems = set()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert {"401", "403"} <= set(operation["responses"]), path
            for status, response in operation["responses"].items():
                content = set(response.get("content", {}))
                # 404 is the upstream's own answer, passed through.
                problem = content == {"application/problem+json"}
                if status.startswith("4") and status != "404" and not problem:
                    not_problems.add((path, status))
    # Only the per-item results of a batch in which no event was accepted.
    assert not_problems == {("/v1/events", "422")}
