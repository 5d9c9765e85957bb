"""Composition point of the identity service: dedupe, resolve, re-key by customer.

It reads the single-partition validated stream, so one writer owns every
identifier link and no two events can race to link the same identifier.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import faust
from prometheus_client import Counter

from libs.common.faust_app import create_faust_app, create_table, guarded_agent, observe
from libs.common.logging import bound_ids, get_logger
from libs.common.table_views import DecodingView
from libs.common.topics import IDENTITY_PARTITIONS, TopicNames
from libs.contract.dlq import SourceRef
from libs.pipeline.envelopes import ResolvedRecord, ValidatedRecord, decode_validated
from services.identity.dedupe import FirstSighting, Sighting, classify
from services.identity.domain.erasure import plan_erasure
from services.identity.domain.identifiers import PROVISIONAL_PREFIX
from services.identity.domain.records import IdentifierSet, LinkRecord, identifier_set_is_expired
from services.identity.domain.update import IdentityUpdate, plan_identity_update
from services.identity.settings import IdentitySettings

log = get_logger("concierge.identity")
SWEEP_INTERVAL_SECONDS = 3600.0


def create_app(settings: IdentitySettings) -> faust.App:
    common = settings.common
    names = TopicNames(common.topic_prefix)
    anonymous_ttl = timedelta(days=settings.anonymous_ttl_days)
    app = create_faust_app(
        "identity",
        common,
        web_port=settings.http_port,
        data_dir=settings.data_dir,
        standby_replicas=settings.standby_replicas,
    )
    telemetry = observe(app, "identity")
    registry = telemetry.registry
    outcomes = Counter(
        "concierge_identity_events", "Validated records by outcome", ["outcome"], registry=registry
    )
    merges = Counter(
        "concierge_identity_merges", "Provisional customers merged into another", registry=registry
    )

    links = create_table(
        app, "identifier-links", partitions=IDENTITY_PARTITIONS, help="identifier key -> LinkRecord"
    )
    identifier_sets = create_table(
        app,
        "customer-identifiers",
        partitions=IDENTITY_PARTITIONS,
        help="customer_id -> IdentifierSet",
    )
    seen_events = create_table(
        app,
        "seen-event-ids",
        partitions=IDENTITY_PARTITIONS,
        ttl=timedelta(hours=settings.dedupe_horizon_hours),
        help="event_id -> the input record it was first seen in",
    )
    links_view = DecodingView(links, LinkRecord.from_bytes)
    sets_view = DecodingView(identifier_sets, IdentifierSet.from_bytes)

    validated = app.topic(names.validated, partitions=IDENTITY_PARTITIONS)
    resolved = app.topic(names.resolved)

    def apply(update: IdentityUpdate) -> None:
        for key, link in update.link_writes.items():
            links[key] = link.to_bytes()
        for key in update.link_deletes:
            links.pop(key, None)
        for customer_id, identifier_set in update.set_writes.items():
            identifier_sets[customer_id] = identifier_set.to_bytes()
        for customer_id in update.set_deletes:
            identifier_sets.pop(customer_id, None)

    async def resolve_event(record: ValidatedRecord) -> None:
        event = record.event
        if event is None:
            raise ValueError("a record without its payload")
        if record.source is None:
            raise ValueError("an event record without its source")
        raw_first = seen_events.get(event.event_id)
        first = None if raw_first is None else FirstSighting.from_bytes(raw_first)
        sighting = classify(first, record.source)
        if sighting is Sighting.REPEAT:
            outcomes.labels("duplicate").inc()
            log.info("duplicate_dropped", first_seen=first.source.model_dump() if first else None)
            return
        if first is None:
            update = plan_identity_update(event, links_view, sets_view, datetime.now(UTC))
            apply(update)
            resolution = update.resolution
            first = FirstSighting(
                record.source,
                resolution.customer_id,
                resolution.provisional,
                tuple(resolution.merges),
            )
            seen_events[event.event_id] = first.to_bytes()
        for merged in first.merges:
            merges.inc()
            out = ResolvedRecord(
                kind="merge_out", customer_id=merged, merge_target=first.customer_id
            )
            await resolved.send(key=merged.encode(), value=out.to_bytes())
        out = ResolvedRecord(
            kind="event", customer_id=first.customer_id, provisional=first.provisional, event=event
        )
        await resolved.send(key=first.customer_id.encode(), value=out.to_bytes())
        outcomes.labels("redelivered" if sighting is Sighting.REDELIVERY else "resolved").inc()
        with bound_ids(customer_id=first.customer_id):
            log.debug("resolved", provisional=first.provisional, merges=first.merges)

    async def erase(record: ValidatedRecord) -> None:
        request = record.erasure
        if request is None:
            raise ValueError("a record without its payload")
        erasure = plan_erasure(request.customer_id, links_view, sets_view)
        for key in erasure.link_deletes:
            links.pop(key, None)
        for customer_id in erasure.set_deletes:
            identifier_sets.pop(customer_id, None)
        out = ResolvedRecord(kind="erasure", customer_id=request.customer_id, erasure=request)
        await resolved.send(key=request.customer_id.encode(), value=out.to_bytes())
        outcomes.labels("erasure").inc()
        log.info("identity_erased", links_deleted=len(erasure.link_deletes))

    def expire(customer_id: str) -> None:
        identifier_set = sets_view.get(customer_id)
        # Re-checked here: an event may have refreshed it since the sweep asked.
        if identifier_set is None or not identifier_set_is_expired(
            identifier_set, datetime.now(UTC), anonymous_ttl
        ):
            return
        plan = plan_erasure(customer_id, links_view, sets_view)
        for key in plan.link_deletes:
            links.pop(key, None)
        for stale in plan.set_deletes:
            identifier_sets.pop(stale, None)
        outcomes.labels("expired").inc()

    async def handle(value: bytes | None, key: bytes | None, source: SourceRef) -> None:
        record = decode_validated(value or b"")
        event_id = record.event.event_id if record.event else None
        customer_id = record.erasure.customer_id if record.erasure else record.customer_id
        with bound_ids(event_id=event_id, customer_id=customer_id):
            if record.kind == "erasure":
                await erase(record)
            elif record.kind == "expire" and record.customer_id is not None:
                expire(record.customer_id)
            elif record.kind == "event":
                await resolve_event(record)
            else:
                raise ValueError(f"unusable validated record of kind {record.kind!r}")

    @app.timer(SWEEP_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]
    async def sweep_quiet_provisional_identities() -> None:
        """Provisional customers' links expire with their context (30 days quiet)."""
        now = datetime.now(UTC)
        keys = [k.decode() if isinstance(k, bytes) else k for k in list(identifier_sets.keys())]
        for scanned, customer_id in enumerate(k for k in keys if k.startswith(PROVISIONAL_PREFIX)):
            if scanned % 500 == 499:
                await asyncio.sleep(0)  # let the agent run between slices of a long scan
            identifier_set = sets_view.get(customer_id)
            if identifier_set is not None and identifier_set_is_expired(
                identifier_set, now, anonymous_ttl
            ):
                request = ValidatedRecord(kind="expire", customer_id=customer_id)
                await validated.send(key=customer_id.encode(), value=request.to_bytes())

    guarded_agent(
        app,
        validated,
        name="identity-resolve",
        telemetry=telemetry,
        dlq_topic=names.dlq,
        handle=handle,
        stall_after=settings.common.partition_stall_seconds,
    )

    return app
