"""Composition point of stage 1 (intake and identity): tables, batch stage, sweep, metrics.

Every input topic is drained a batch at a time by ``IntakeHandler``; the
identity tables have one partition, so one worker owns every identifier link
(a second worker waits as a standby) and every input partition's records
read and write that single table partition.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import faust

from libs.common.batch import Output, TableView, Work
from libs.common.batch_stage import batch_stage
from libs.common.faust_app import create_faust_app, create_table, observe
from libs.common.gc_pauses import keep_gc_pauses_short
from libs.common.lag_metrics import export_stage_lag
from libs.common.logging import get_logger
from libs.common.topics import CHANNELS, IDENTITY_PARTITIONS, TopicNames
from libs.pipeline.customers import PROVISIONAL_PREFIX
from services.intake.handler import (
    IDENTIFIER_SETS,
    LINKS,
    SEEN_EVENTS,
    IntakeHandler,
    IntakeMetrics,
)
from services.intake.identity.records import IdentifierSet, identifier_set_is_expired
from services.intake.routing import IntakeLimits, scrubbed_key, scrubbed_letter
from services.intake.settings import IntakeSettings

log = get_logger("concierge.intake")
SWEEP_INTERVAL_SECONDS = 3600.0
# Customers checked between two yields of the scan, and expired per job.
SWEEP_SLICE = 500


def create_app(settings: IntakeSettings) -> faust.App:
    common = settings.common
    names = TopicNames(common.topic_prefix)
    anonymous_ttl = timedelta(days=settings.anonymous_ttl_days)
    app = create_faust_app(
        "intake",
        common,
        web_port=settings.http_port,
        data_dir=settings.data_dir,
        standby_replicas=settings.standby_replicas,
        advertised_url=settings.advertised_url,
        # Identity is one writer over single-partition tables, while the inputs
        # have many partitions: a second worker waits as a hot standby.
        single_writer=True,
    )
    telemetry = observe(app, "intake")
    keep_gc_pauses_short(app, common.gc_freeze_seconds, common.gc_reclaim_seconds)
    export_stage_lag(app, telemetry.registry, common, "intake")

    links = create_table(
        app, LINKS, partitions=IDENTITY_PARTITIONS, help="identifier key -> LinkRecord"
    )
    identifier_sets = create_table(
        app, IDENTIFIER_SETS, partitions=IDENTITY_PARTITIONS, help="customer_id -> IdentifierSet"
    )
    seen_events = create_table(
        app,
        SEEN_EVENTS,
        partitions=IDENTITY_PARTITIONS,
        ttl=timedelta(hours=settings.dedupe_horizon_hours),
        help="event_id -> the input record it was first seen in",
    )

    limits = IntakeLimits(
        pii_key=settings.pii_key.get_secret_value().encode(),
        pii_key_id=settings.pii_key_id,
        previous_pii_key=settings.previous_key(),
        max_bytes=settings.max_event_bytes,
        max_future=timedelta(seconds=settings.max_future_seconds),
    )
    handler = IntakeHandler(names, limits, anonymous_ttl, IntakeMetrics.create(telemetry.registry))
    stage = batch_stage(
        app,
        name="intake",
        topics=[*(names.interactions(channel) for channel in CHANNELS), names.privacy_requests],
        tables={LINKS: links, IDENTIFIER_SETS: identifier_sets, SEEN_EVENTS: seen_events},
        # First sightings last: a redelivered event they name is skipped, so the
        # identity links it wrote must be in Kafka before they are.
        changelog_order=[{LINKS, IDENTIFIER_SETS}, {SEEN_EVENTS}],
        handler=handler,
        telemetry=telemetry,
        dlq_topic=names.dlq,
        letter_for=scrubbed_letter,
        dlq_key=scrubbed_key,
        # Every input partition resolves against the one partition of the identity tables.
        table_partition=lambda partition: 0,
        stall_after=common.partition_stall_seconds,
    )

    def expire_all(customer_ids: list[str]) -> Work:
        def job(tables: Mapping[str, TableView]) -> Sequence[Output]:
            now = datetime.now(UTC)
            for customer_id in customer_ids:
                handler.expire(customer_id, tables, now)
            return ()

        return job

    @app.timer(SWEEP_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]
    async def sweep_quiet_provisional_identities() -> None:
        """Provisional customers' links expire with their context (30 days quiet)."""
        now = datetime.now(UTC)
        keys = [k.decode() if isinstance(k, bytes) else k for k in list(identifier_sets.keys())]
        expired: list[str] = []
        for scanned, customer_id in enumerate(k for k in keys if k.startswith(PROVISIONAL_PREFIX)):
            if scanned % SWEEP_SLICE == SWEEP_SLICE - 1:
                await asyncio.sleep(0)  # let the stage run between slices of a long scan
            raw = stage.lookup(IDENTIFIER_SETS, customer_id)
            if raw is not None and identifier_set_is_expired(
                IdentifierSet.from_bytes(raw), now, anonymous_ttl
            ):
                expired.append(customer_id)
        # Jobs run between two batches, in the stage's own order; each re-checks
        # its customers, since an event may have refreshed one since the scan.
        for start in range(0, len(expired), SWEEP_SLICE):
            try:
                await stage.run_job(0, expire_all(expired[start : start + SWEEP_SLICE]))
            except LookupError:  # the writer moved to another worker meanwhile
                log.info("sweep_stopped_not_the_writer")
                return
        if expired:
            log.info("provisional_identities_expired", count=len(expired))

    return app
