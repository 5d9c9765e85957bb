"""Pure parts of the customer views: which suppressions a channel's stream
passes, and upstream refusals turned into problem documents."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from libs.contract.common import Channel
from services.gateway.customer_views import as_problem, suppression_covers

PROBLEM = "application/problem+json"


def scoped(channels: list[str]) -> bytes:
    return orjson.dumps({"schema": "suppression/v1", "scope": {"channels": channels}})


def test_a_channel_stream_passes_its_channel_and_all_channel_suppressions() -> None:
    web = suppression_covers(Channel.web)
    assert web(scoped(["web", "email"]))
    assert web(scoped([]))  # empty: every channel
    assert not web(scoped(["phone"]))
    assert not web(b"not json")


def test_an_upstream_refusal_becomes_a_problem_and_a_problem_passes_unchanged() -> None:
    plain = as_problem(
        Response(b'{"error":"unknown_customer"}', 404, media_type="application/json")
    )
    assert plain.headers["content-type"] == PROBLEM
    assert orjson.loads(plain.body) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "unknown_customer",
    }
    already = Response(b'{"status":404}', 404, media_type=PROBLEM)
    assert as_problem(already) is already
    ok = Response(b"{}", 200, media_type="application/json")
    assert as_problem(ok) is ok
    garbled = as_problem(Response(b"<html>", 502))
    assert orjson.loads(garbled.body)["detail"] == "The decision service refused"
