"""Contract test: the gateway answers as its own OpenAPI document says, under fuzzing.

Schemathesis reads `/openapi.json` from a real gateway (real HTTP, real
Kafka) and, for every operation the document declares, sends generated
requests with each kind of API key: valid data (positive) and data the
document forbids (negative). Any 5xx the document does not declare, or any
answer whose status, content type, headers or body the document does not
describe, fails the test with the request that caused it.

Operations are taken from the document, not listed here: a new endpoint is
fuzzed as soon as it is in `/openapi.json`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from aiokafka.errors import KafkaError
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from libs.common.lag import stage_lags
from services.gateway.settings import GatewaySettings
from tests.integration.gateway.conftest import SettingsFactory
from tests.integration.gateway.support import (
    OPERATOR_KEY,
    PHONE_KEY,
    READONLY_KEY,
    WEB_KEY,
    running_gateway,
    serve,
    upstream,
)
from tests.support.kafka_io import wait_for

pytestmark = pytest.mark.integration

# Requests per run, shared by every operation, key and generation mode, so
# the run stays bounded as endpoints are added: with 4 operations, 12
# examples each (480 requests, about 40 s on a 2-core machine). Each
# combination gets at least MIN_EXAMPLES.
REQUEST_BUDGET = 480
MIN_EXAMPLES = 4
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# Each kind of key, and none (the fuzzer then makes up an Authorization header).
KEYS: dict[str, str | None] = {
    "web": WEB_KEY,
    "phone": PHONE_KEY,
    "operator": OPERATOR_KEY,
    "read-only": READONLY_KEY,
    "no": None,
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
CONFIG = schemathesis.Config.from_dict({"request-timeout": 10})
# An event stream never ends: it is read for this long, then hung up on
# (schemathesis also stops at the first event with data, which only a new
# action would send).
STREAM_SECONDS = 3.0


@dataclass
class FuzzRun:
    operations: list[str] = field(default_factory=list)
    fuzzed: set[str] = field(default_factory=set)
    requests: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)


def fuzz(base_url: str, run: FuzzRun) -> None:
    """Every operation in the served document, with every key, both modes."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=CONFIG)
    # An operation the fuzzer cannot read is an error (`ok()` raises it), not a skip.
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert operations, "the document declares no operation"
    run.operations = [operation.label for operation in operations]
    examples = max(MIN_EXAMPLES, REQUEST_BUDGET // (len(operations) * len(KEYS) * len(MODES)))
    with requests.Session() as session:
        for operation in operations:
            for key_kind, key in KEYS.items():
                for mode in modes_for(operation):
                    label = f"{operation.label}, {key_kind} key, {mode.value}"
                    try:
                        fuzz_operation(operation, key, mode, examples, base_url, session, run)
                    except (Exception, FailureGroup) as finding:  # reported together below
                        run.findings.append(f"{label}:\n{finding}")


def modes_for(operation: APIOperation[Any, Any, Any, Any]) -> tuple[GenerationMode, ...]:
    """Both modes, but only valid data for an operation that takes no parameter
    and no body: there is nothing to make invalid (the key is tried apart)."""
    raw = operation.definition.raw
    if raw.get("parameters") or raw.get("requestBody"):
        return MODES
    return (GenerationMode.POSITIVE,)


async def lags_answer(settings: GatewaySettings) -> bool:
    try:
        await stage_lags(settings.common)
    except KafkaError:
        return False
    return True


def fuzz_operation(
    operation: APIOperation[Any, Any, Any, Any],
    key: str | None,
    mode: GenerationMode,
    examples: int,
    base_url: str,
    session: requests.Session,
    run: FuzzRun,
) -> None:
    headers = None if key is None else {"Authorization": f"Bearer {key}"}
    strategy = operation.as_strategy(generation_mode=mode, headers=headers)
    transport: dict[str, Any] = (
        {"timeout": STREAM_SECONDS} if serves_event_stream(operation) else {}
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: Case[Any]) -> None:
        response = case.call(base_url=base_url, session=session, **transport)
        run.requests += 1
        run.statuses[f"{operation.label} {response.status_code}"] += 1
        run.fuzzed.add(operation.label)
        case.validate_response(response, checks=CHECKS)

    call()


def serves_event_stream(operation: APIOperation[Any, Any, Any, Any]) -> bool:
    responses = operation.definition.raw.get("responses", {}).values()
    return any("text/event-stream" in response.get("content", {}) for response in responses)


async def test_every_answer_matches_the_openapi_document(gateway_settings: SettingsFactory) -> None:
    run = FuzzRun()
    # Kafka and the decision service are up (a stand-in answering its two
    # queries), so no request has a reason to get a 5xx.
    async with serve(upstream([])) as upstream_url:
        settings = gateway_settings(context_url=upstream_url, decision_url=upstream_url)
        # A new broker makes its group coordinator on the first ask: until then the
        # operator status is a (documented) 503, which would count as a finding.
        await wait_for(lambda: lags_answer(settings), 60, "the group coordinator")
        async with running_gateway(settings, production_server=True) as gateway:
            await asyncio.to_thread(fuzz, gateway.url, run)
    print(f"fuzzed with {run.requests} requests: {dict(sorted(run.statuses.items()))}")
    assert not run.findings, "\n\n".join(run.findings)
    assert run.fuzzed == set(run.operations)
