"""Context and next-best-action queries, proxied to stand-ins for those services.

The stand-ins are small real HTTP servers: the decision service answers both
queries and is another service; this tests only what the gateway does with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libs.common.settings import CommonSettings
from tests.integration.gateway.conftest import SettingsFactory
from tests.integration.gateway.support import (
    BROKEN,
    KNOWN,
    OPERATOR_KEY,
    PHONE_KEY,
    READONLY_KEY,
    WEB_KEY,
    RunningGateway,
    auth,
    running_gateway,
    serve,
    upstream,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def proxied(
    gateway_settings: SettingsFactory,
) -> AsyncIterator[tuple[RunningGateway, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    async with serve(upstream(seen)) as url:
        settings = gateway_settings(context_url=url, decision_url=url + "/")
        async with running_gateway(settings) as gateway:
            yield gateway, seen


async def test_context_answers_pass_through_with_their_status(
    proxied: tuple[RunningGateway, list[dict[str, Any]]],
) -> None:
    gateway, seen = proxied
    found = await gateway.client.get(f"/v1/customers/{KNOWN}/context", headers=auth(WEB_KEY))
    assert found.status_code == 200
    assert found.json() == {"customer_id": KNOWN, "open_complaints": 1}
    assert found.headers["content-type"] == "application/json"
    missing = await gateway.client.get("/v1/customers/cust-0/context", headers=auth(WEB_KEY))
    assert missing.status_code == 404
    assert missing.json() == {"error": "unknown_customer"}
    assert [entry["customer_id"] for entry in seen] == [KNOWN, "cust-0"]


async def test_customer_ids_stay_one_path_segment_upstream(
    proxied: tuple[RunningGateway, list[dict[str, Any]]],
) -> None:
    gateway, seen = proxied
    odd = "/v1/customers/a%2Fb%3Fc%20d%23%C3%A9/context"
    answer = await gateway.client.get(odd, headers=auth(WEB_KEY))
    assert answer.status_code == 404
    assert seen[-1]["raw_path"] == odd.encode()
    assert seen[-1]["customer_id"] == "a/b?c d#é"


async def test_next_best_action_passes_the_channel_and_the_answer_through(
    proxied: tuple[RunningGateway, list[dict[str, Any]]],
) -> None:
    gateway, seen = proxied
    answer = await gateway.client.get(
        f"/v1/customers/{KNOWN}/next-best-action",
        params={"channel": "phone"},
        headers=auth(PHONE_KEY),
    )
    assert answer.status_code == 200
    assert answer.json()["channel"] == "phone"
    assert seen[-1]["query"] == {"channel": "phone"}
    missing = await gateway.client.get(
        "/v1/customers/cust-0/next-best-action?channel=web", headers=auth(OPERATOR_KEY)
    )
    assert missing.status_code == 404


async def test_queries_need_their_scope_and_a_channel_keys_own_channel(
    proxied: tuple[RunningGateway, list[dict[str, Any]]],
) -> None:
    gateway, seen = proxied
    nba = f"/v1/customers/{KNOWN}/next-best-action"
    assert (await gateway.client.get(f"/v1/customers/{KNOWN}/context")).status_code == 401
    assert (
        await gateway.client.get(nba, params={"channel": "web"}, headers=auth(READONLY_KEY))
    ).status_code == 403
    other_channel = await gateway.client.get(
        nba, params={"channel": "web"}, headers=auth(PHONE_KEY)
    )
    assert other_channel.status_code == 403
    bad_channel = await gateway.client.get(
        nba, params={"channel": "fax"}, headers=auth(OPERATOR_KEY)
    )
    assert bad_channel.status_code == 422
    no_channel = await gateway.client.get(nba, headers=auth(OPERATOR_KEY))
    assert no_channel.status_code == 422
    assert seen == []


async def test_an_upstream_that_does_not_answer_is_503_with_the_reason(
    gateway: RunningGateway,
) -> None:
    context = await gateway.client.get(f"/v1/customers/{KNOWN}/context", headers=auth(WEB_KEY))
    assert context.status_code == 503
    assert "context service is unavailable" in context.json()["detail"]
    decision = await gateway.client.get(
        f"/v1/customers/{KNOWN}/next-best-action?channel=web", headers=auth(WEB_KEY)
    )
    assert decision.status_code == 503
    assert "decision service is unavailable" in decision.json()["detail"]


async def test_an_upstream_failure_is_503_naming_the_service_not_passed_through(
    proxied: tuple[RunningGateway, list[dict[str, Any]]],
) -> None:
    gateway, _ = proxied
    for path in (f"/v1/customers/{BROKEN}/context", f"/v1/customers/{BROKEN}/next-best-action"):
        answer = await gateway.client.get(path, params={"channel": "web"}, headers=auth(WEB_KEY))
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert "service is unavailable: it answered 500" in answer.json()["detail"]


def token_upstream(token: str, seen: list[str | None]) -> Starlette:
    """A decision service that wants ``token``, as the workers do with a query token."""

    async def answer(request: Request) -> Response:
        seen.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != f"Bearer {token}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        return JSONResponse({"customer_id": request.path_params["customer_id"]})

    return Starlette(routes=[Route("/v1/customers/{customer_id:path}/context", answer)])


async def test_the_gateway_sends_its_query_token_and_a_refused_one_is_503(
    gateway_settings: SettingsFactory, provisioned: CommonSettings
) -> None:
    seen: list[str | None] = []
    async with serve(token_upstream("right-token", seen)) as url:
        for token, status in (("right-token", 200), ("wrong-token", 503)):
            common = provisioned.model_copy(update={"query_token": SecretStr(token)})
            async with running_gateway(gateway_settings(common=common, context_url=url)) as gw:
                answer = await gw.client.get(
                    f"/v1/customers/{KNOWN}/context", headers=auth(WEB_KEY)
                )
                assert answer.status_code == status, answer.text
                if status == 503:
                    assert "query token" in answer.json()["detail"]
    assert seen == ["Bearer right-token", "Bearer wrong-token"]
