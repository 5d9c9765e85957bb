"""Composition point of the context service: one live context per customer.

Reads the resolved stream (keyed by customer), applies the pure reducers,
stores the context in a RocksDB table with a changelog, and emits each event
with the context it produced. Serves the context to agent desktops from the
worker that owns the customer's partition.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import faust
import orjson
from faust.web import Request, Response, View
from prometheus_client import Counter, Histogram

from libs.common.decoded_cache import DecodedCache
from libs.common.faust_app import create_faust_app, create_table, guarded_agent, observe
from libs.common.logging import bound_ids, get_logger
from libs.common.topics import TopicNames
from libs.contract.dlq import SourceRef
from libs.pipeline.envelopes import ResolvedRecord, decode_resolved
from services.context.domain.merge import adopt_provisional, is_expired, merge_contexts
from services.context.domain.model import CustomerContext
from services.context.domain.reducers import apply_event
from services.context.domain.summary import summarize
from services.context.records import ContextualizedRecord, encode_contextualized
from services.context.settings import ContextSettings
from services.identity.domain.identifiers import PROVISIONAL_PREFIX

log = get_logger("concierge.context")
SWEEP_INTERVAL_SECONDS = 3600.0


def create_app(settings: ContextSettings) -> faust.App:
    common = settings.common
    names = TopicNames(common.topic_prefix)
    app = create_faust_app(
        "context",
        common,
        web_port=settings.http_port,
        data_dir=settings.data_dir,
        standby_replicas=settings.standby_replicas,
    )
    telemetry = observe(app, "context")
    registry = telemetry.registry
    handled = Counter(
        "concierge_context_records",
        "Resolved records handled, by kind",
        ["kind"],
        registry=registry,
    )
    context_bytes = Histogram(
        "concierge_context_bytes",
        "Stored size of a context after an event",
        buckets=(512, 1024, 2048, 4096, 8192, 16384, 32768, 65536),
        registry=registry,
    )

    contexts = create_table(
        app,
        "customer-contexts",
        partitions=common.partitions,
        help="customer_id -> CustomerContext",
    )
    resolved = app.topic(names.resolved)
    contextualized = app.topic(names.contextualized)
    anonymous_ttl = timedelta(days=settings.anonymous_ttl_days)

    decoded = DecodedCache(CustomerContext.from_bytes)

    def load(customer_id: str) -> CustomerContext | None:
        raw = contexts.get(customer_id)
        if raw is None:
            decoded.forget(customer_id)
            return None
        return decoded.decode(customer_id, raw)

    def store(context: CustomerContext) -> None:
        data = context.to_bytes()
        context_bytes.observe(len(data))
        contexts[context.customer_id] = data
        decoded.remember(context.customer_id, data, context)

    async def on_event(record: ResolvedRecord) -> None:
        if record.event is None:
            raise ValueError("a record without its payload")
        before = load(record.customer_id)
        after = apply_event(
            before, record.event, record.customer_id, record.provisional, datetime.now(UTC)
        )
        if after is not before:
            store(after)
        # Emitted even for an event already applied (a redelivery): what it
        # produced last time may not have been sent; decisions dedupe by event.
        out = ContextualizedRecord("event", record.customer_id, event=record.event, context=after)
        await contextualized.send(key=record.customer_id.encode(), value=encode_contextualized(out))

    def drop(customer_id: str) -> None:
        contexts.pop(customer_id, None)
        decoded.forget(customer_id)

    async def forget_downstream(customer_id: str) -> None:
        """Decision keeps per-customer state too; a context that moved or expired
        must not leave it behind (erasure relies on it)."""
        out = ContextualizedRecord("forget", customer_id)
        await contextualized.send(key=customer_id.encode(), value=encode_contextualized(out))

    async def on_merge_out(record: ResolvedRecord) -> None:
        source = load(record.customer_id)
        if source is None or record.merge_target is None:
            return
        carry = ResolvedRecord(
            kind="merge_in",
            customer_id=record.merge_target,
            merged_context=orjson.loads(source.to_bytes()),
        )
        # Sent before the delete: after a crash in between, the redelivered
        # merge_out finds the context and sends it again (merging is idempotent).
        await resolved.send(key=record.merge_target.encode(), value=carry.to_bytes())
        await forget_downstream(record.customer_id)
        drop(record.customer_id)

    def on_merge_in(record: ResolvedRecord) -> None:
        if record.merged_context is None:
            return
        source = CustomerContext.from_bytes(orjson.dumps(record.merged_context))
        target = load(record.customer_id)
        merged = (
            adopt_provisional(source, record.customer_id)
            if target is None
            else merge_contexts(target, source)
        )
        if merged is not target:
            store(merged)

    async def on_erasure(record: ResolvedRecord) -> None:
        drop(record.customer_id)
        out = ContextualizedRecord("erasure", record.customer_id, erasure=record.erasure)
        await contextualized.send(key=record.customer_id.encode(), value=encode_contextualized(out))
        log.info("context_erased")

    async def on_expire(record: ResolvedRecord) -> None:
        context = load(record.customer_id)
        # Re-checked here: an event may have arrived since the sweep asked.
        if context is not None and is_expired(context, datetime.now(UTC), anonymous_ttl):
            await forget_downstream(record.customer_id)
            drop(record.customer_id)

    async def handle(value: bytes | None, key: bytes | None, source: SourceRef) -> None:
        record = decode_resolved(value or b"")
        event_id = record.event.event_id if record.event else None
        with bound_ids(customer_id=record.customer_id, event_id=event_id):
            handled.labels(record.kind).inc()
            if record.kind == "event":
                await on_event(record)
            elif record.kind == "merge_out":
                await on_merge_out(record)
            elif record.kind == "merge_in":
                on_merge_in(record)
            elif record.kind == "erasure":
                await on_erasure(record)
            elif record.kind == "expire":
                await on_expire(record)
            else:
                raise ValueError(f"unknown resolved record kind {record.kind!r}")

    guarded_agent(
        app,
        resolved,
        name="context-apply",
        telemetry=telemetry,
        dlq_topic=names.dlq,
        handle=handle,
        stall_after=settings.common.partition_stall_seconds,
    )

    @app.timer(SWEEP_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]
    async def sweep_quiet_provisional_contexts() -> None:
        # Tables change only inside a stream, so the sweep asks the agent to expire.
        # Keys only, and only provisional ones are decoded: known customers never expire.
        now = datetime.now(UTC)
        keys = [k.decode() if isinstance(k, bytes) else k for k in list(contexts.keys())]
        for scanned, customer_id in enumerate(k for k in keys if k.startswith(PROVISIONAL_PREFIX)):
            if scanned % 500 == 499:
                await asyncio.sleep(0)  # let the agent run between slices of a long scan
            raw = contexts.get(customer_id)
            if raw is not None and is_expired(CustomerContext.from_bytes(raw), now, anonymous_ttl):
                expire = ResolvedRecord(kind="expire", customer_id=customer_id)
                await resolved.send(key=customer_id.encode(), value=expire.to_bytes())

    @app.page("/v1/customers/{customer_id}/context")
    class CustomerContextView(View):
        @app.table_route(table=contexts, match_info="customer_id")  # type: ignore[arg-type]
        async def get(self, request: Request, customer_id: str) -> Response:
            context = load(customer_id)
            if context is None:
                return self.json(
                    {"error": "unknown_customer", "customer_id": customer_id}, status=404
                )
            return self.bytes(
                orjson.dumps(summarize(context, datetime.now(UTC))), content_type="application/json"
            )

    return app
