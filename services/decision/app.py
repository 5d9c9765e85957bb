"""Composition point of the decision service: catalogue, contact history, outputs.

Reads each event with its context, runs the pure ``decide``, keeps the
customer's contact history in a RocksDB table (so caps hold exactly, even for
a burst in one poll), and emits actions to ``actions.<channel>`` and
suppression starts and lifts to ``suppressions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import faust
import orjson
from aiokafka.structs import TopicPartition
from faust.types import TP
from faust.web import Request, Response, View
from prometheus_client import Counter, Histogram

from libs.common.decoded_cache import DecodedCache
from libs.common.faust_app import (
    bootstrap_servers,
    create_faust_app,
    create_table,
    guarded_agent,
    observe,
)
from libs.common.in_flight import Deferred
from libs.common.kafka import records_since
from libs.common.logging import bound_ids, get_logger
from libs.common.topics import CHANNELS, TopicNames
from libs.contract.codec import to_json_bytes
from libs.contract.common import Channel
from libs.contract.dlq import SourceRef
from services.context.domain.model import CustomerContext
from services.context.records import ContextualizedRecord, decode_contextualized
from services.decision.domain.catalogue import DecisionConfig, load_config
from services.decision.domain.decide import decide, next_best_action
from services.decision.domain.emissions import (
    action_emission,
    emissions_in,
    suppression_emission,
)
from services.decision.domain.history import ContactHistory
from services.decision.domain.rules.erasure import erasure_suppression
from services.decision.settings import DecisionSettings

log = get_logger("concierge.decision")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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
    )
    telemetry = observe(app, "decision")
    registry = telemetry.registry
    decisions = Counter(
        "concierge_decision_decisions", "Events decided, by outcome", ["outcome"], registry=registry
    )
    actions_sent = Counter(
        "concierge_decision_actions", "Actions emitted", ["channel", "kind"], registry=registry
    )
    suppressions_sent = Counter(
        "concierge_decision_suppressions",
        "Suppressions emitted",
        ["reason", "state"],
        registry=registry,
    )
    not_resent = Counter(
        "concierge_decision_outputs_not_resent",
        "Outputs of a redelivered decision found already in Kafka, so not sent again",
        ["kind"],
        registry=registry,
    )
    latency = Histogram(
        "concierge_decision_event_to_decision_seconds",
        "From intake receiving an event to its decision",
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )

    histories = create_table(
        app, "contact-history", partitions=common.partitions, help="customer_id -> ContactHistory"
    )
    # The context as of the customer's last event: lets the synchronous
    # next-best-action query answer from this service's own state.
    latest_contexts = create_table(
        app, "latest-context", partitions=common.partitions, help="customer_id -> CustomerContext"
    )
    contextualized = app.topic(names.contextualized)
    action_topics = {channel.value: app.topic(names.actions(channel)) for channel in CHANNELS}
    suppressions = app.topic(names.suppressions)
    output_topics = [names.actions(channel) for channel in CHANNELS] + [names.suppressions]
    # Per input partition: what was already sent for records this worker may get
    # again (docs/reliability.md, failure mode 2). Read when it takes the
    # partition over; each key is used once.
    sent_before: dict[int, set[str]] = {}

    async def read_back(tp: TP, first_timestamp: float) -> None:
        """Outputs sent for this partition's records since (a margin before) its
        first unfinished record was written: any output of a record handled
        before but not committed was sent after that."""
        since = first_timestamp - settings.read_back_seconds
        records = await records_since(
            bootstrap_servers(app),
            output_topics,
            int(since * 1000),
            keys_of=TopicPartition(tp.topic, tp.partition),
        )
        sent_before[tp.partition] = emissions_in(record.value for record in records)
        log.info("outputs_read_back", partition=f"{tp.topic}[{tp.partition}]", read=len(records))

    def already_sent(source: SourceRef, emission: str, kind: str) -> bool:
        found = sent_before.get(source.partition)
        if not found or emission not in found:
            return False
        found.discard(emission)
        not_resent.labels(kind).inc()
        log.info("output_already_sent", emission=emission)
        return True

    decoded_histories = DecodedCache(ContactHistory.from_json)
    # Histories whose decision's outputs are queued but not yet delivered: the
    # table is written only once Kafka has them (libs/common/in_flight.py), so
    # a crash before that decides the redelivered event again instead of
    # skipping it as already decided. Meanwhile the next event reads them here.
    pending_histories: dict[str, ContactHistory] = {}

    def load_history(customer_id: str) -> ContactHistory:
        pending = pending_histories.get(customer_id)
        if pending is not None:
            return pending
        raw = histories.get(customer_id)
        if raw is None:
            return ContactHistory.empty(customer_id)
        return decoded_histories.decode(customer_id, raw)

    def store_history(customer_id: str, history: ContactHistory) -> None:
        stored = history.to_json()
        histories[customer_id] = stored
        decoded_histories.remember(customer_id, stored, history)
        if pending_histories.get(customer_id) is history:
            del pending_histories[customer_id]

    async def on_event(record: ContextualizedRecord, source: SourceRef) -> Deferred:
        if record.event is None or record.context is None:
            raise ValueError("an event record without its event or context")
        now = datetime.now(UTC)
        result = decide(
            record.event,
            record.context,
            load_history(record.customer_id),
            loaded.catalogue,
            loaded.policies,
            now,
        )
        key = record.customer_id.encode()
        sends = []
        for action in result.actions:
            if already_sent(source, action_emission(action), "action"):
                continue
            sends.append(
                await action_topics[action.channel].send(key=key, value=to_json_bytes(action))
            )
            actions_sent.labels(action.channel, action.action.kind).inc()
        for suppression in result.suppressions:
            if already_sent(source, suppression_emission(suppression), "suppression"):
                continue
            sends.append(await suppressions.send(key=key, value=to_json_bytes(suppression)))
            suppressions_sent.labels(suppression.reason, suppression.state).inc()
        pending_histories[record.customer_id] = result.history
        latest_contexts[record.customer_id] = record.context.to_bytes()
        outcome = result.explanation.outcome
        decisions.labels(outcome).inc()
        if record.event.received_at is not None:
            latency.observe(max(0.0, (now - record.event.received_at).total_seconds()))
        with bound_ids(decision_id=result.explanation.decision_id):
            log.info(
                "decided",
                outcome=outcome,
                chosen=result.explanation.chosen,
                suppressions=[s.reason for s in result.suppressions],
            )
        return Deferred(sends, partial(store_history, record.customer_id, result.history))

    def forget(customer_id: str) -> Deferred:
        # Dropped from memory now; from the tables in input order, so that an
        # earlier event's history, written once its outputs are delivered, can't
        # bring the forgotten customer back.
        pending_histories.pop(customer_id, None)
        decoded_histories.forget(customer_id)

        def drop_tables() -> None:
            histories.pop(customer_id, None)
            latest_contexts.pop(customer_id, None)
            decoded_histories.forget(customer_id)

        return Deferred((), drop_tables)

    async def on_erasure(record: ContextualizedRecord, source: SourceRef) -> Deferred:
        if record.erasure is None:
            raise ValueError("an erasure record without its request")
        forgotten = forget(record.customer_id)
        suppression = erasure_suppression(record.erasure, datetime.now(UTC))
        if already_sent(source, suppression_emission(suppression), "suppression"):
            return forgotten
        sent = await suppressions.send(
            key=record.customer_id.encode(), value=to_json_bytes(suppression)
        )
        suppressions_sent.labels(suppression.reason, suppression.state).inc()
        log.info("history_erased")
        return Deferred((sent,), forgotten.then)

    async def handle(value: bytes | None, key: bytes | None, source: SourceRef) -> Deferred:
        record = decode_contextualized(value or b"")
        event_id = record.event.event_id if record.event else None
        with bound_ids(customer_id=record.customer_id, event_id=event_id):
            if record.kind == "erasure":
                return await on_erasure(record, source)
            if record.kind == "forget":
                return forget(record.customer_id)
            return await on_event(record, source)

    guarded_agent(
        app,
        contextualized,
        name="decision-decide",
        telemetry=telemetry,
        dlq_topic=names.dlq,
        handle=handle,
        stall_after=settings.common.partition_stall_seconds,
        on_take_over=read_back,
    )

    @app.page("/v1/customers/{customer_id}/next-best-action")
    class NextBestActionView(View):
        @app.table_route(table=histories, match_info="customer_id")  # type: ignore[arg-type]
        async def get(self, request: Request, customer_id: str) -> Response:
            channel = request.query.get("channel", "")
            if channel not in {c.value for c in Channel}:
                return self.json(
                    {
                        "error": "invalid_channel",
                        "detail": "channel must be one of web, phone, mobile, store",
                    },
                    status=400,
                )
            raw_context = latest_contexts.get(customer_id)
            if raw_context is None:
                return self.json(
                    {"error": "unknown_customer", "customer_id": customer_id}, status=404
                )
            answer = next_best_action(
                CustomerContext.from_bytes(raw_context),
                load_history(customer_id),
                channel,
                datetime.now(UTC),
                loaded.catalogue,
                loaded.policies,
            )
            body = {
                "customer_id": customer_id,
                "channel": channel,
                "policy_version": loaded.policy_version,
                "action": None
                if answer.action is None
                else orjson.loads(to_json_bytes(answer.action)),
                "explanation": answer.explanation.to_dict(),
            }
            return self.bytes(orjson.dumps(body), content_type="application/json")

    return app
