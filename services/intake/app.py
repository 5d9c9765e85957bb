"""Composition point of the intake service: topics, agents, metrics, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import faust
from prometheus_client import CollectorRegistry, Counter

from libs.common.faust_app import create_faust_app, faust_ready, install_health_views, source_of
from libs.common.health import HealthState
from libs.common.logging import bound_ids, get_logger
from libs.common.topics import CHANNELS, TopicNames
from services.intake.routing import IntakeLimits, Routed, route_erasure, route_interaction
from services.intake.settings import IntakeSettings

log = get_logger("concierge.intake")


def create_app(settings: IntakeSettings) -> faust.App:
    common = settings.common
    names = TopicNames(common.topic_prefix)
    app = create_faust_app(
        "intake", common, web_port=settings.http_port, data_dir=settings.data_dir
    )
    registry = CollectorRegistry()
    records = Counter(
        "concierge_intake_records",
        "Input records by outcome and error code",
        ["outcome", "code"],
        registry=registry,
    )
    health = HealthState("intake", registry=registry)
    health.add_readiness_check("worker", lambda: faust_ready(app))
    install_health_views(app, health)

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
            log.info("dead_lettered", code=routed.code.value, topic=routed.topic)

    @app.agent(interactions, name="intake-interactions")
    async def intake_interactions(stream: Any) -> None:
        async for event in stream.events():
            routed = route_interaction(
                event.message.value,
                event.message.key,
                source_of(event),
                names,
                limits,
                datetime.now(UTC),
            )
            with bound_ids(event_id=routed.event_id):
                await send(routed)

    @app.agent(privacy_requests, name="intake-privacy")
    async def intake_privacy(stream: Any) -> None:
        async for event in stream.events():
            await send(
                route_erasure(
                    event.message.value,
                    event.message.key,
                    source_of(event),
                    names,
                    datetime.now(UTC),
                )
            )

    return app
