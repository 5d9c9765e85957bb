"""Composition point of stage 2: context and decision, a batch at a time.

Reads the resolved stream (keyed by customer) a fetched batch at a time
(``libs/common/batch_stage.py``); ``DecisionHandler`` applies the context
reducers and decides in the same step over two co-partitioned RocksDB tables
with changelogs, the customer's context and contact history. Emits actions to
``actions.<channel>`` and suppression starts and lifts to ``suppressions``,
and answers the context and next-best-action queries for the customers whose
partitions this worker owns.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import faust
import orjson
from faust.web import Request, Response, View

from libs.common.batch_stage import batch_stage
from libs.common.faust_app import (
    create_faust_app,
    create_table,
    kafka_connection,
    observe,
)
from libs.common.gc_pauses import keep_gc_pauses_short
from libs.common.lag_metrics import export_stage_lag
from libs.common.topics import TopicNames
from libs.context import CustomerContext, is_expired, summarize
from libs.contract.codec import to_json_bytes
from libs.contract.common import Channel
from libs.pipeline.customers import PROVISIONAL_PREFIX
from libs.pipeline.envelopes import ResolvedRecord
from services.decision.domain.catalogue import DecisionConfig, load_config
from services.decision.domain.decide import next_best_action
from services.decision.domain.history import ContactHistory
from services.decision.handler import (
    CHANGELOG_ORDER,
    CONTEXTS,
    HISTORIES,
    IN_FORCE,
    LOG_KEYS,
    TIMELINE,
    DecisionHandler,
)
from services.decision.queries import install_customer_queries, problem, unknown_customer
from services.decision.settings import DecisionSettings

SWEEP_INTERVAL_SECONDS = 3600.0


def create_app(settings: DecisionSettings, config: DecisionConfig | None = None) -> faust.App:
    common = settings.common
    loaded = config or load_config(settings.catalogue_path, settings.policies_path)
    names = TopicNames(common.topic_prefix)
    app = create_faust_app(
        "decision",
        common,
        web_port=settings.http_port,
        data_dir=settings.data_dir,
        standby_replicas=settings.standby_replicas,
        advertised_url=settings.advertised_url,
    )
    telemetry = observe(app, "decision")
    keep_gc_pauses_short(app, common.gc_freeze_seconds, common.gc_reclaim_seconds)
    export_stage_lag(app, telemetry.registry, common, "decision")
    contexts = create_table(
        app, CONTEXTS, partitions=common.partitions, help="customer_id -> CustomerContext"
    )
    in_force = create_table(
        app,
        IN_FORCE,
        partitions=common.partitions,
        help="customer_id -> SuppressionsInForce (what suppressions.active last got)",
    )
    histories = create_table(
        app, HISTORIES, partitions=common.partitions, help="customer_id -> ContactHistory"
    )
    log_keys = create_table(
        app,
        LOG_KEYS,
        partitions=common.partitions,
        help="customer_id -> the key their decision log records are sealed with",
    )
    timeline = create_table(
        app,
        TIMELINE,
        partitions=common.partitions,
        help="customer_id -> their latest decision-log/v1 records, newline-separated",
    )
    anonymous_ttl = timedelta(days=settings.anonymous_ttl_days)
    handler = DecisionHandler(
        loaded,
        names,
        anonymous_ttl=anonymous_ttl,
        kafka=kafka_connection(app),
        read_back_seconds=settings.read_back_seconds,
        timeline_decisions=settings.timeline_decisions,
        registry=telemetry.registry,
    )
    stage = batch_stage(
        app,
        name="decision",
        topics=[names.resolved],
        tables={
            CONTEXTS: contexts,
            IN_FORCE: in_force,
            HISTORIES: histories,
            LOG_KEYS: log_keys,
            TIMELINE: timeline,
        },
        changelog_order=CHANGELOG_ORDER,
        handler=handler,
        telemetry=telemetry,
        dlq_topic=names.dlq,
        on_take_over=handler.read_back,
        on_assigned=handler.forget_decoded,
        stall_after=common.partition_stall_seconds,
    )
    resolved = app.topic(names.resolved)

    def load_context(customer_id: str) -> CustomerContext | None:
        raw = stage.lookup(CONTEXTS, customer_id)
        return None if raw is None else CustomerContext.from_bytes(raw)

    @app.timer(SWEEP_INTERVAL_SECONDS)  # type: ignore[untyped-decorator]
    async def sweep_quiet_provisional_contexts() -> None:
        # Tables change only in the stage, so the sweep asks it to expire (and
        # the handler checks again). Keys only, and only provisional ones are
        # decoded: known customers never expire.
        now = datetime.now(UTC)
        keys = [k.decode() if isinstance(k, bytes) else k for k in list(contexts.keys())]
        for scanned, customer_id in enumerate(k for k in keys if k.startswith(PROVISIONAL_PREFIX)):
            if scanned % 500 == 499:
                await asyncio.sleep(0)  # let the stage run between slices of a long scan
            context = load_context(customer_id)
            if context is not None and is_expired(context, now, anonymous_ttl):
                expire = ResolvedRecord(kind="expire", customer_id=customer_id)
                await resolved.send(key=customer_id.encode(), value=expire.to_bytes())

    @app.page("/v1/customers/{customer_id}/context")
    class CustomerContextView(View):
        @app.table_route(table=contexts, match_info="customer_id")  # type: ignore[arg-type]
        async def get(self, request: Request, customer_id: str) -> Response:
            context = load_context(customer_id)
            if context is None:
                return unknown_customer(self, customer_id)
            return self.bytes(
                orjson.dumps(summarize(context, datetime.now(UTC))), content_type="application/json"
            )

    @app.page("/v1/customers/{customer_id}/next-best-action")
    class NextBestActionView(View):
        @app.table_route(table=contexts, match_info="customer_id")  # type: ignore[arg-type]
        async def get(self, request: Request, customer_id: str) -> Response:
            channel = request.query.get("channel", "")
            if channel not in {c.value for c in Channel}:
                detail = "channel must be one of web, phone, mobile, store"
                return problem(self, 400, "Invalid channel", detail)
            context = load_context(customer_id)
            if context is None:
                return unknown_customer(self, customer_id)
            raw_history = stage.lookup(HISTORIES, customer_id)
            history = (
                ContactHistory.empty(customer_id)
                if raw_history is None
                else ContactHistory.from_json(raw_history)
            )
            answer = next_best_action(
                context, history, channel, datetime.now(UTC), loaded.catalogue, loaded.policies
            )
            body = {
                "customer_id": customer_id,
                "channel": channel,
                "policy_version": loaded.policy_version,
                "action": None
                if answer.action is None
                else orjson.loads(to_json_bytes(answer.action)),
                "explanation": answer.explanation.to_dict(),
                # For the person who asked: the agent at call start, the associate.
                "briefing": answer.briefing,
            }
            return self.bytes(orjson.dumps(body), content_type="application/json")

    install_customer_queries(
        app,
        contexts=contexts,
        lookup=stage.lookup,
        load_context=load_context,
        timeline_table=TIMELINE,
        in_force_table=IN_FORCE,
        policy_version=loaded.policy_version,
    )
    return app
