"""Queries answered by the decision service (context, next best action), passed through."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

import httpx
from starlette.responses import Response

_PASSED_HEADERS = ("content-type", "cache-control", "etag", "last-modified")
# The decision service's answers to a query: the customer's, or unknown customer.
_PASSED_STATUSES = frozenset({200, 404})


class UpstreamUnavailable(RuntimeError):
    def __init__(self, upstream: str, reason: str) -> None:
        super().__init__(f"the {upstream} service is unavailable: {reason}")
        self.upstream = upstream


def customer_path(customer_id: str, suffix: str) -> str:
    # Customer ids are opaque: a "/" or "?" in one must stay inside the segment.
    return f"/v1/customers/{quote(customer_id, safe='')}/{suffix}"


async def forward_get(
    client: httpx.AsyncClient,
    upstream: str,
    base_url: str,
    path: str,
    params: Mapping[str, str] | None = None,
) -> Response:
    """The upstream's status (200 or 404), body and content type; UpstreamUnavailable
    if it does not answer, or answers anything else."""
    url = base_url.rstrip("/") + path
    try:
        answer = await client.get(url, params=params, headers={"accept": "application/json"})
    except httpx.TimeoutException as error:
        raise UpstreamUnavailable(upstream, "it did not answer in time") from error
    except httpx.TransportError as error:
        raise UpstreamUnavailable(upstream, f"cannot reach it ({type(error).__name__})") from error
    if answer.status_code == 401:
        # The client's own key was accepted here: a 401 upstream is the gateway's
        # query token, a deployment mistake the caller cannot fix.
        raise UpstreamUnavailable(
            upstream, "it refused the gateway's query token (CONCIERGE_QUERY_TOKEN differs)"
        )
    if answer.status_code not in _PASSED_STATUSES:
        # Anything else (a crash, a worker not ready) is the upstream's
        # trouble, not an answer the gateway's document promises.
        raise UpstreamUnavailable(upstream, f"it answered {answer.status_code}")
    headers = {name: answer.headers[name] for name in _PASSED_HEADERS if name in answer.headers}
    return Response(answer.content, status_code=answer.status_code, headers=headers)
