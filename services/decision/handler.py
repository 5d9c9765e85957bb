"""Stage 2's service layer: context and decision for one resolved record at a time.

For each record of ``concierge.internal.resolved`` (keyed by customer, in
offset order) the handler applies the context reducers and decides in the
same step, over two co-partitioned tables: ``customer-contexts`` and
``contact-history``. It returns the actions (to ``actions.<channel>``) and
suppressions (to ``suppressions``) to send, keyed by customer id; it never
sends or awaits itself (``libs/common/batch.py``).

The adapter writes the tables' state only once the batch's outputs are
delivered, and reads through the pending writes, so a crash before that
decides a redelivered event again rather than skip it as decided; outputs of
such a decision that did reach Kafka are found by ``read_back`` when the
partition is taken over and not sent twice (docs/reliability.md, failure
mode 2).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiokafka.structs import TopicPartition
from prometheus_client import CollectorRegistry, Counter, Histogram

from libs.common.batch import InputRecord, Output, TableView, Unencoded
from libs.common.decoded_cache import DecodedCache
from libs.common.kafka import records_since
from libs.common.logging import bound_ids, get_logger
from libs.common.metric_children import children
from libs.common.topics import CHANNELS, TopicNames
from libs.context import (
    CustomerContext,
    adopt_provisional,
    apply_event,
    is_expired,
    merge_contexts,
)
from libs.contract.action import ActionEvent
from libs.contract.codec import to_json_bytes
from libs.contract.interaction import InteractionEvent
from libs.contract.suppression import SuppressionEvent
from libs.pipeline.decision_log import LogKey, LogSealer, log_subject
from libs.pipeline.envelopes import ResolvedRecord, decode_resolved
from services.decision.domain.catalogue import DecisionConfig
from services.decision.domain.decide import DecisionResult, decide
from services.decision.domain.decision_log import (
    index_after,
    indexed_ids,
    log_record,
    record_key,
)
from services.decision.domain.emissions import (
    action_emission,
    emissions_in,
    suppression_emission,
)
from services.decision.domain.explain import OUTCOME_DUPLICATE, Explanation
from services.decision.domain.history import ContactHistory
from services.decision.domain.in_force import decode_in_force, encode_in_force, in_force_after
from services.decision.domain.rules.erasure import erasure_suppression

log = get_logger("concierge.decision")

CONTEXTS = "customer-contexts"
IN_FORCE = "suppressions-in-force"
HISTORIES = "contact-history"
LOG_KEYS = "decision-log-keys"
TIMELINE = "decision-timeline"
# The order the tables' changelogs land in after a batch, each group delivered
# before the next is sent (libs/common/batch.py::changelog_rounds). The contact
# history records what was decided, so a redelivered event it names sends
# nothing. The suppressions in force land before it: after it, a crash in
# between would leave them missing what the history says was sent, for good.
# The contexts land after it: before it, a crash in between would decide the
# redelivered events again over a context that already holds the events after
# them (the wrong action, for the wrong event); a context behind the history
# is put right when the redelivered event is applied again. The decision log's
# key and the timeline index land before the history too: after it, a crash in
# between would leave a logged decision that no kept key opens, for good.
CHANGELOG_ORDER = ({IN_FORCE, LOG_KEYS, TIMELINE}, {HISTORIES}, {CONTEXTS})
# Every table of the stage, for those who build them (the app, tests, benchmarks).
TABLES = (CONTEXTS, IN_FORCE, HISTORIES, LOG_KEYS, TIMELINE)
# Decisions kept per customer for the timeline (the log topic keeps them all).
TIMELINE_DECISIONS = 20  # DecisionSettings.timeline_decisions
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTEXT_BYTES_BUCKETS = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)


class DecisionHandler:
    """``libs.common.batch.RecordHandler`` of stage 2."""

    def __init__(
        self,
        config: DecisionConfig,
        names: TopicNames,
        *,
        anonymous_ttl: timedelta,
        kafka: Mapping[str, Any] | None = None,
        read_back_seconds: float = 60.0,
        timeline_decisions: int = TIMELINE_DECISIONS,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._config = config
        self._timeline_decisions = timeline_decisions
        self._names = names
        self._anonymous_ttl = anonymous_ttl
        # How to reach the brokers (libs.common.kafka.connection) to read outputs back.
        self._kafka = kafka or {}
        self._read_back_seconds = read_back_seconds
        self._action_topics = {channel.value: names.actions(channel) for channel in CHANNELS}
        self._output_topics = [names.actions(channel) for channel in CHANNELS] + [
            names.suppressions
        ]
        # Per input partition: what was already sent for records this worker may
        # get again. Filled by ``read_back`` when it takes the partition over;
        # each key is used once.
        self.sent_before: dict[int, set[str]] = {}
        self._contexts: DecodedCache[CustomerContext] = DecodedCache(CustomerContext.from_bytes)
        self._histories: DecodedCache[ContactHistory] = DecodedCache(ContactHistory.from_json)
        # Each suppression a decision emits reads the customer's set in force.
        self._in_force_sets: DecodedCache[tuple[SuppressionEvent, ...]] = DecodedCache(
            decode_in_force
        )
        # Each decision seals its log record with the customer's key. Forgotten
        # when this worker erases the customer (``_drop``), and with every decoded
        # record on each new assignment (``forget_decoded``): a worker that lost the
        # customer's partition does not keep the key for an erasure handled elsewhere.
        self._log_sealers: DecodedCache[LogSealer] = DecodedCache(LogSealer.from_bytes)

        registry = registry if registry is not None else CollectorRegistry()
        self._records = Counter(
            "concierge_context_records",
            "Resolved records handled, by kind",
            ["kind"],
            registry=registry,
        )
        self._context_bytes = Histogram(
            "concierge_context_bytes",
            "Stored size of a context, each time one is written",
            buckets=CONTEXT_BYTES_BUCKETS,
            registry=registry,
        )
        self._decisions = Counter(
            "concierge_decision_decisions",
            "Events decided, by outcome",
            ["outcome"],
            registry=registry,
        )
        self._actions_sent = Counter(
            "concierge_decision_actions", "Actions emitted", ["channel", "kind"], registry=registry
        )
        self._suppressions_sent = Counter(
            "concierge_decision_suppressions",
            "Suppressions emitted",
            ["reason", "state"],
            registry=registry,
        )
        self._not_resent = Counter(
            "concierge_decision_outputs_not_resent",
            "Outputs of a redelivered decision found already in Kafka, so not sent again",
            ["kind"],
            registry=registry,
        )
        self._not_resent_by = children(self._not_resent)
        self._records_by = children(self._records)
        self._actions_sent_by = children(self._actions_sent)
        self._suppressions_sent_by = children(self._suppressions_sent)
        self._decisions_by = children(self._decisions)
        self._latency = Histogram(
            "concierge_decision_event_to_decision_seconds",
            "From intake receiving an event to its decision",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    # -- take-over -------------------------------------------------------------

    def forget_decoded(self) -> None:
        """A new assignment: drop every decoded record kept in memory (contexts,
        histories, suppressions in force, log keys). The partitions they belong to
        may be another worker's now, and an erasure handled there must leave no
        customer's key or context here; what stays ours is decoded again on use."""
        for cache in (self._contexts, self._histories, self._in_force_sets, self._log_sealers):
            cache.clear()

    async def read_back(self, topic: str, partition: int, first_timestamp: float) -> None:
        """Outputs sent for this partition's records since (a margin before) its
        first unfinished record was written: any output of a record handled
        before but not committed was sent after that."""
        since = first_timestamp - self._read_back_seconds
        records = await records_since(
            self._kafka,
            self._output_topics,
            int(since * 1000),
            keys_of=TopicPartition(topic, partition),
        )
        self.sent_before[partition] = emissions_in(record.value for record in records)
        log.info("outputs_read_back", partition=f"{topic}[{partition}]", read=len(records))

    def already_sent(self, partition: int, emission: str, kind: str) -> bool:
        found = self.sent_before.get(partition)
        if not found or emission not in found:
            return False
        found.discard(emission)
        self._not_resent_by(kind).inc()
        log.info("output_already_sent", emission=emission)
        return True

    # -- state -----------------------------------------------------------------

    def load_context(self, contexts: TableView, customer_id: str) -> CustomerContext | None:
        stored = contexts.read(customer_id)
        if stored is None:
            self._contexts.forget(customer_id)
            return None
        return self._contexts.load(customer_id, stored)

    def _store_context(self, contexts: TableView, context: CustomerContext) -> None:
        # Encoded when written, once per flush (``Unencoded``): most of a
        # customer's puts are replaced by their next event's before then.
        stored = Unencoded(context, self._encode_context)
        contexts.put(context.customer_id, stored)
        self._contexts.remember(context.customer_id, stored, context)

    def _encode_context(self, context: CustomerContext) -> bytes:
        data = context.to_bytes()
        self._context_bytes.observe(len(data))
        return data

    def load_history(self, histories: TableView, customer_id: str) -> ContactHistory:
        stored = histories.read(customer_id)
        if stored is None:
            self._histories.forget(customer_id)
            return ContactHistory.empty(customer_id)
        return self._histories.load(customer_id, stored)

    def _store_history(self, histories: TableView, history: ContactHistory) -> None:
        stored = Unencoded(history, ContactHistory.to_json)
        histories.put(history.customer_id, stored)
        self._histories.remember(history.customer_id, stored, history)

    def _drop(self, tables: Mapping[str, TableView], customer_id: str) -> list[Output]:
        """Forget the customer; a tombstone for `suppressions.active` if it had any."""
        tables[CONTEXTS].delete(customer_id)
        tables[HISTORIES].delete(customer_id)
        # Without its key, what the decision log holds of the customer is noise.
        tables[LOG_KEYS].delete(customer_id)
        timeline = tables[TIMELINE]
        for decision_id in indexed_ids(timeline.get(customer_id)):
            timeline.delete(record_key(customer_id, decision_id))
        timeline.delete(customer_id)
        self._contexts.forget(customer_id)
        self._histories.forget(customer_id)
        self._in_force_sets.forget(customer_id)
        self._log_sealers.forget(customer_id)
        in_force = tables[IN_FORCE]
        if in_force.get(customer_id) is None:
            return []
        in_force.delete(customer_id)
        return [Output(self._names.suppressions_active, customer_id.encode(), None)]

    def _in_force(
        self,
        tables: Mapping[str, TableView],
        customer_id: str,
        emitted: Sequence[SuppressionEvent],
        now: datetime,
    ) -> list[Output]:
        """The customer's suppressions in force after ``emitted``, to
        `suppressions.active` if they changed (docs/contract/suppression.md)."""
        table = tables[IN_FORCE]
        stored = table.read(customer_id)
        current = () if stored is None else self._in_force_sets.load(customer_id, stored)
        after = in_force_after(current, emitted, now)
        if after == current:
            return []
        value = encode_in_force(customer_id, after, now)
        if value is None:
            table.delete(customer_id)
            self._in_force_sets.forget(customer_id)
        else:
            table.put(customer_id, value)
            self._in_force_sets.remember(customer_id, value, after)
        return [Output(self._names.suppressions_active, customer_id.encode(), value)]

    # -- records ---------------------------------------------------------------

    def handle(
        self, record: InputRecord, tables: Mapping[str, TableView], now: datetime
    ) -> Sequence[Output]:
        resolved = decode_resolved(record.value or b"")
        event_id = resolved.event.event_id if resolved.event else None
        with bound_ids(customer_id=resolved.customer_id, event_id=event_id):
            self._records_by(resolved.kind).inc()
            if resolved.kind == "event":
                return self._on_event(resolved, record.partition, tables, now)
            if resolved.kind == "merge_out":
                return self._on_merge_out(resolved, tables)
            if resolved.kind == "merge_in":
                self._on_merge_in(resolved, tables)
                return ()
            if resolved.kind == "erasure":
                return self._on_erasure(resolved, record.partition, tables, now)
            if resolved.kind == "expire":
                return self._on_expire(resolved, tables, now)
            raise ValueError(f"unknown resolved record kind {resolved.kind!r}")

    def _on_event(
        self,
        record: ResolvedRecord,
        partition: int,
        tables: Mapping[str, TableView],
        now: datetime,
    ) -> list[Output]:
        event = record.event
        if event is None:
            raise ValueError("an event record without its payload")
        began = time.perf_counter()
        customer_id = record.customer_id
        contexts = tables[CONTEXTS]
        before = self.load_context(contexts, customer_id)
        context = apply_event(before, event, customer_id, record.provisional, now)
        if context is not before:
            self._store_context(contexts, context)
        # Decided even for an event the reducers saw already (a redelivery): its
        # decision may not have been recorded; the history dedupes by event.
        histories = tables[HISTORIES]
        history = self.load_history(histories, customer_id)
        policies = self._config.policies
        result = decide(event, context, history, self._config.catalogue, policies, now)
        outputs = self._outputs(result.actions, result.suppressions, customer_id, partition)
        if result.suppressions:
            # All of them, sent now or found already sent: the set is state.
            outputs.extend(self._in_force(tables, customer_id, result.suppressions, now))
        if result.history is not history:
            self._store_history(histories, result.history)
        if result.explanation.outcome != OUTCOME_DUPLICATE:  # a repeat is not a decision
            decide_us = (time.perf_counter() - began) * 1e6
            logged = self._logged(tables, event, customer_id, result, now, decide_us, partition)
            outputs.append(logged)
        self._observe_decision(event, result.explanation, result.suppressions, now)
        return outputs

    def _logged(
        self,
        tables: Mapping[str, TableView],
        event: InteractionEvent,
        customer_id: str,
        result: DecisionResult,
        now: datetime,
        decide_us: float,
        partition: int,
    ) -> Output:
        """The decision's `decision-log/v1` record, sealed with the customer's key
        (made on their first decision), and kept in their timeline index. On the
        log it is keyed by the key's id and sent to the customer's partition (the
        resolved record's: both topics have as many partitions)."""
        record = log_record(
            result.explanation,
            event,
            customer_id,
            result.actions,
            result.suppressions,
            now,
            decide_us,
        )
        sealer = self._log_sealer(tables[LOG_KEYS], customer_id)
        timeline = tables[TIMELINE]
        decision_id = result.explanation.decision_id
        update = index_after(timeline.get(customer_id), decision_id, self._timeline_decisions)
        if update.added:
            # The index last: a crash that lands only part of the table's changelog
            # then leaves an index naming records still there, so the redelivered
            # decision writes and evicts them again (and erasure finds them).
            timeline.put(record_key(customer_id, decision_id), record)
            for evicted in update.evicted:
                timeline.delete(record_key(customer_id, evicted))
            timeline.put(customer_id, update.value)
        return Output(
            self._names.decision_log,
            log_subject(sealer.key),
            sealer.seal(customer_id, record),
            partition,
        )

    def _log_sealer(self, keys: TableView, customer_id: str) -> LogSealer:
        """The customer's decision log key, made on their first decision."""
        stored = keys.read(customer_id)
        if stored is not None:
            return self._log_sealers.load(customer_id, stored)
        sealer = LogSealer.for_key(LogKey.generate())
        raw = sealer.key.to_bytes()
        keys.put(customer_id, raw)
        self._log_sealers.remember(customer_id, raw, sealer)
        return sealer

    def _outputs(
        self,
        actions: Sequence[ActionEvent],
        suppressions: Sequence[SuppressionEvent],
        customer_id: str,
        partition: int,
    ) -> list[Output]:
        key = customer_id.encode()
        outputs: list[Output] = []
        for action in actions:
            if self.already_sent(partition, action_emission(action), "action"):
                continue
            outputs.append(Output(self._action_topics[action.channel], key, to_json_bytes(action)))
            self._actions_sent_by(action.channel, action.action.kind).inc()
        for suppression in suppressions:
            if self.already_sent(partition, suppression_emission(suppression), "suppression"):
                continue
            outputs.append(Output(self._names.suppressions, key, to_json_bytes(suppression)))
            self._suppressions_sent_by(suppression.reason, suppression.state).inc()
        return outputs

    def _observe_decision(
        self,
        event: InteractionEvent,
        explanation: Explanation,
        suppressions: Sequence[SuppressionEvent],
        now: datetime,
    ) -> None:
        outcome = explanation.outcome
        self._decisions_by(outcome).inc()
        if event.received_at is not None:
            self._latency.observe(max(0.0, (now - event.received_at).total_seconds()))
        # Every decision's record is on the decision log (docs/decision-log.md): a
        # log line per decision at INFO would repeat it, at a tenth of the stage's
        # CPU when it drains thousands of events a second.
        # (A filtering logger: below its level, debug() returns at once.)
        log.debug(
            "decided",
            outcome=outcome,
            decision_id=explanation.decision_id,
            chosen=explanation.chosen,
            suppressions=[s.reason for s in suppressions],
        )

    def _on_merge_out(
        self, record: ResolvedRecord, tables: Mapping[str, TableView]
    ) -> list[Output]:
        source = self.load_context(tables[CONTEXTS], record.customer_id)
        if source is None or record.merge_target is None:
            return []
        carry = ResolvedRecord(
            kind="merge_in",
            customer_id=record.merge_target,
            merged_context=orjson.loads(source.to_bytes()),
        )
        # The delete is written only once the merge_in is delivered: after a
        # crash in between, the redelivered merge_out finds the context and
        # sends it again (merging is idempotent).
        forgotten = self._drop(tables, record.customer_id)
        return [
            Output(self._names.resolved, record.merge_target.encode(), carry.to_bytes()),
            *forgotten,
        ]

    def _on_merge_in(self, record: ResolvedRecord, tables: Mapping[str, TableView]) -> None:
        if record.merged_context is None:
            return
        contexts = tables[CONTEXTS]
        source = CustomerContext.from_json_dict(record.merged_context)
        target = self.load_context(contexts, record.customer_id)
        merged = (
            adopt_provisional(source, record.customer_id)
            if target is None
            else merge_contexts(target, source)
        )
        if merged is not target:
            self._store_context(contexts, merged)

    def _on_erasure(
        self,
        record: ResolvedRecord,
        partition: int,
        tables: Mapping[str, TableView],
        now: datetime,
    ) -> list[Output]:
        if record.erasure is None:
            raise ValueError("an erasure record without its request")
        forgotten = self._drop(tables, record.customer_id)
        log.info("context_erased")
        suppression = erasure_suppression(record.erasure, now)
        if self.already_sent(partition, suppression_emission(suppression), "suppression"):
            return forgotten
        self._suppressions_sent_by(suppression.reason, suppression.state).inc()
        log.info("history_erased")
        return [
            Output(
                self._names.suppressions,
                record.customer_id.encode(),
                to_json_bytes(suppression),
            ),
            *forgotten,
        ]

    def _on_expire(
        self, record: ResolvedRecord, tables: Mapping[str, TableView], now: datetime
    ) -> list[Output]:
        context = self.load_context(tables[CONTEXTS], record.customer_id)
        # Re-checked here: an event may have arrived since the sweep asked.
        if context is not None and is_expired(context, now, self._anonymous_ttl):
            return self._drop(tables, record.customer_id)
        return []
