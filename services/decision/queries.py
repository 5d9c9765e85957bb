"""The decision service's customer queries beyond context and next best action:
the timeline, the suppressions in force, one decision's explanation.

Each reads the tables of the worker that owns the customer's partition
(``table_route`` forwards a request to it): the timeline index and the
suppressions in force are kept there, per customer, by the same handler that
decides. Errors are RFC 9457 problem details, which the gateway passes on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust
import orjson
from faust.web import Request, Response, View

from libs.context import CustomerContext
from libs.contract.codec import to_json_bytes
from libs.contract.queries import SuppressionsNow
from services.decision.domain.decision_log import indexed_records
from services.decision.domain.in_force import decode_in_force
from services.decision.domain.timeline import (
    decisions_of,
    find_decision,
    in_force_now,
    on_channel,
    page,
    timeline,
)

PROBLEM_JSON = "application/problem+json"
DEFAULT_PAGE = 50
MAX_PAGE = 200


def problem(view: View, status: int, title: str, detail: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return view.bytes(orjson.dumps(body), status=status, content_type=PROBLEM_JSON)


def unknown_customer(view: View, customer_id: str) -> Response:
    return problem(view, 404, "Unknown customer", f"No customer {customer_id!r} is known")


def _json(view: View, body: bytes) -> Response:
    return view.bytes(body, content_type="application/json")


def _bounded_int(raw: str | None, default: int, low: int, high: int) -> int | None:
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        return None
    return int(raw)


def install_customer_queries(
    app: faust.App,
    *,
    contexts: Any,
    lookup: Callable[[str, str], bytes | None],
    load_context: Callable[[str], CustomerContext | None],
    timeline_table: str,
    in_force_table: str,
    policy_version: str,
) -> None:
    """``lookup(table, customer_id)`` reads through the stage's pending writes."""

    @app.page("/v1/policy")
    class PolicyView(View):
        async def get(self, request: Request) -> Response:
            return _json(self, orjson.dumps({"policy_version": policy_version}))

    def decisions(customer_id: str) -> list[dict[str, Any]]:
        return decisions_of(indexed_records(partial(lookup, timeline_table), customer_id))

    @app.page("/v1/customers/{customer_id}/timeline")
    class TimelineView(View):
        @app.table_route(table=contexts, match_info="customer_id")  # type: ignore[arg-type]
        async def get(self, request: Request, customer_id: str) -> Response:
            limit = _bounded_int(request.query.get("limit"), DEFAULT_PAGE, 1, MAX_PAGE)
            offset = _bounded_int(request.query.get("offset"), 0, 0, 1_000_000)
            if limit is None or offset is None:
                return problem(
                    self,
                    400,
                    "Bad paging",
                    f"limit must be 1..{MAX_PAGE} and offset a whole number from 0",
                )
            context = load_context(customer_id)
            kept = decisions(customer_id)
            if context is None and not kept:
                return unknown_customer(self, customer_id)
            # The gateway names the channel a bound key may see (its decisions only).
            shown = on_channel(kept, request.query.get("channel"))
            found = page(timeline(context, shown), offset, limit)
            body = {
                "customer_id": customer_id,
                "entries": found.entries,
                "total": found.total,
                "next_offset": found.next_offset,
            }
            return _json(self, orjson.dumps(body))

    @app.page("/v1/customers/{customer_id}/suppressions")
    class SuppressionsView(View):
        @app.table_route(table=contexts, match_info="customer_id")  # type: ignore[arg-type]
        async def get(self, request: Request, customer_id: str) -> Response:
            now = datetime.now(UTC)
            stored = decode_in_force(lookup(in_force_table, customer_id))
            answer = SuppressionsNow(
                customer_id=customer_id, suppressions=in_force_now(stored, now), as_of=now
            )
            return _json(self, to_json_bytes(answer))

    @app.page("/v1/decisions/{decision_id}")
    class DecisionView(View):
        async def get(self, request: Request, decision_id: str) -> Response:
            if not request.query.get("customer_id"):
                detail = "customer_id (whose decision it is) is required"
                return problem(self, 400, "Customer required", detail)
            return await self.routed(request, decision_id)  # type: ignore[call-arg]

        @app.table_route(table=contexts, query_param="customer_id")  # type: ignore[arg-type]
        async def routed(self, request: Request, decision_id: str) -> Response:
            customer_id = request.query["customer_id"]
            record = find_decision(decisions(customer_id), decision_id)
            if record is None:
                return problem(
                    self,
                    404,
                    "Unknown decision",
                    f"No decision {decision_id!r} among the latest kept for {customer_id!r}; "
                    "older ones are on the decision log (concierge decisions <customer>)",
                )
            return _json(self, orjson.dumps(record))
