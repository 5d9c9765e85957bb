"""Composition point of the intake service: topics, agents, metrics, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import faust
from prometheus_client import Counter

from libs.common.faust_app import create_faust_app, guarded_agent, observe
from libs.common.logging import bound_ids, get_logger
from libs.common.topics import CHANNELS, TopicNames
from libs.contract.dlq import SourceRef
from services.intake.routing import (
    IntakeLimits,
    Routed,
    route_erasure,
    route_interaction,
    scrubbed_key,
    scrubbed_letter,
)
from services.intake.settings import IntakeSettings

log = get_logger("concierge.intake")


def create_app(settings: IntakeSettings) -> faust.App:
    common = settings.common
    names = TopicNames(common.topic_prefix)
    app = create_faust_app(
        "intake", common, web_port=settings.http_port, data_dir=settings.data_dir
    )
    telemetry = observe(app, "intake")
    records = Counter(
        "concierge_intake_records",
        "Input records by outcome and error code",
        ["outcome", "code"],
        registry=telemetry.registry,
    )

    limits = IntakeLimits(
        pii_key=settings.pii_key.get_secret_value().encode(),
        max_bytes=settings.max_event_bytes,
        max_future=timedelta(seconds=settings.max_future_seconds),
    )
    interactions = app.topic(*[names.interactions(channel) for channel in CHANNELS])
    privacy_requests = app.topic(names.privacy_requests)
    outputs = {name: app.topic(name) for name in (names.validated, names.dlq)}

    async def send(routed: Routed) -> None:
        await outputs[routed.topic].send(key=routed.key, value=routed.value)
        records.labels(routed.outcome, routed.code or "").inc()
        if routed.code is not None:
            # DEBUG: a flood of bad input must not cost more than the input itself;
            # every letter is counted by code (metric) and kept in the DLQ topic.
            log.debug("dead_lettered", code=routed.code.value, topic=routed.topic)

    async def on_interaction(value: bytes | None, key: bytes | None, source: SourceRef) -> None:
        routed = route_interaction(value, key, source, names, limits, datetime.now(UTC))
        with bound_ids(event_id=routed.event_id):
            await send(routed)

    async def on_erasure(value: bytes | None, key: bytes | None, source: SourceRef) -> None:
        await send(route_erasure(value, key, source, names, datetime.now(UTC)))

    guarded_agent(
        app,
        interactions,
        name="intake-interactions",
        telemetry=telemetry,
        dlq_topic=names.dlq,
        handle=on_interaction,
        letter_for=scrubbed_letter,
        dlq_key=scrubbed_key,
        stall_after=settings.common.partition_stall_seconds,
    )
    guarded_agent(
        app,
        privacy_requests,
        name="intake-privacy",
        telemetry=telemetry,
        dlq_topic=names.dlq,
        handle=on_erasure,
        letter_for=scrubbed_letter,
        dlq_key=scrubbed_key,
        stall_after=settings.common.partition_stall_seconds,
    )

    return app
