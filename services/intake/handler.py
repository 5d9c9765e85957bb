"""Stage 1's service layer: validate, dedupe and resolve each input record.

``IntakeHandler.handle`` takes one record of ``interactions.<channel>`` or
``privacy.requests`` and the stage's three tables, and returns what to
produce: a dead letter, or the event (or erasure) re-keyed by customer id for
``concierge.internal.resolved``, preceded by the ``merge_out`` records of the
provisional customers it absorbed. It never awaits and never sends; the batch
adapter (libs/common/batch_stage.py) does, and keeps its table writes only if
it returns.

Dedupe: the first sighting of an event_id is stored with the input record it
came from (``SourceRef`` of topic, partition and offset) and how it resolved.
A redelivery of that same record (a crash before its offset was committed)
resends exactly what it first produced, without touching the links again; a
different record with the same event_id is the sender repeating itself and
is dropped (``services/intake/identity/dedupe.py``).

Every identity table has one partition: one writer owns every link, so no
two events race to link the same identifier.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter

from libs.common.batch import InputRecord, Output, TableView
from libs.common.decoded_cache import DecodedCache
from libs.common.logging import bound_ids, get_logger
from libs.common.metric_children import children
from libs.common.topics import TopicNames
from libs.contract.dlq import SourceRef
from libs.contract.erasure import ErasureRequest
from libs.contract.interaction import InteractionEvent
from libs.pipeline.envelopes import ResolvedRecord
from services.intake.identity.dedupe import FirstSighting, Sighting, classify
from services.intake.identity.erasure import Erasure, plan_erasure
from services.intake.identity.identifiers import rotated_keys
from services.intake.identity.records import (
    IdentifierSet,
    LinkRecord,
    identifier_set_is_expired,
)
from services.intake.identity.update import IdentityUpdate, plan_identity_update
from services.intake.identity.views import KeyedView
from services.intake.routing import IntakeLimits, Letter, route_erasure, route_interaction

log = get_logger("concierge.intake")

LINKS = "identifier-links"
IDENTIFIER_SETS = "customer-identifiers"
SEEN_EVENTS = "seen-event-ids"
TABLES = (LINKS, IDENTIFIER_SETS, SEEN_EVENTS)

V = TypeVar("V")


class _Decoded(KeyedView[V]):
    """A table as the pure identity functions read it: ``get`` returns the decoded record.

    Decoded records are kept by their stored bytes (``DecodedCache``), so a
    visitor's links are parsed once per burst of events, never served stale.
    """

    __slots__ = ("_cache", "_table")

    def __init__(self, table: TableView, cache: DecodedCache[V]) -> None:
        self._table = table
        self._cache = cache

    def get(self, key: str, default: object = None) -> V | None:
        raw = self._table.get(key)
        return None if raw is None else self._cache.decode(key, raw)


@dataclass(frozen=True)
class IntakeMetrics:
    """concierge_intake_records{outcome,code}, concierge_identity_events{outcome},
    concierge_identity_merges."""

    records: Counter
    identity: Counter
    merges: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> IntakeMetrics:
        return cls(
            Counter(
                "concierge_intake_records",
                "Input records by outcome and error code",
                ["outcome", "code"],
                registry=registry,
            ),
            Counter(
                "concierge_identity_events",
                "Accepted events and requests by identity outcome",
                ["outcome"],
                registry=registry,
            ),
            Counter(
                "concierge_identity_merges",
                "Provisional customers merged into another",
                registry=registry,
            ),
        )


class IntakeHandler:
    """``libs.common.batch.RecordHandler`` of stage 1; see the module docstring."""

    def __init__(
        self,
        names: TopicNames,
        limits: IntakeLimits,
        anonymous_ttl: timedelta,
        metrics: IntakeMetrics,
    ) -> None:
        self._names = names
        self._limits = limits
        self._anonymous_ttl = anonymous_ttl
        self._metrics = metrics
        self._privacy_topic = names.privacy_requests
        self._resolved_topic = names.resolved
        self._records = children(metrics.records)
        self._identity = children(metrics.identity)
        self._links: DecodedCache[LinkRecord] = DecodedCache(LinkRecord.from_bytes)
        self._sets: DecodedCache[IdentifierSet] = DecodedCache(IdentifierSet.from_bytes)

    def handle(
        self, record: InputRecord, tables: Mapping[str, TableView], now: datetime
    ) -> Sequence[Output]:
        source = SourceRef(topic=record.topic, partition=record.partition, offset=record.offset)
        if record.topic == self._privacy_topic:
            request = route_erasure(record.value, record.key, source, self._names, now)
            if isinstance(request, Letter):
                return [self._dead_letter(request)]
            self._records("forwarded", "").inc()
            with bound_ids(customer_id=request.customer_id):
                return self._erase(request, tables)
        verdict = route_interaction(
            record.value, record.key, source, self._names, self._limits, now
        )
        if isinstance(verdict, Letter):
            return [self._dead_letter(verdict)]
        self._records("forwarded", "").inc()
        event = verdict.event
        with bound_ids(event_id=event.event_id):
            rotated = rotated_keys(event.identity, verdict.previous_hashes)
            return self._resolve(event, source, tables, now, rotated)

    def expire(
        self, customer_id: str, tables: Mapping[str, TableView], now: datetime
    ) -> Sequence[Output]:
        """Forget a quiet provisional customer's links (the hourly sweep asks)."""
        links, sets = self._views(tables)
        identifier_set = sets.get(customer_id)
        # Re-checked here: an event may have refreshed it since the sweep looked.
        if identifier_set is None or not identifier_set_is_expired(
            identifier_set, now, self._anonymous_ttl
        ):
            return ()
        self._apply_erasure(plan_erasure(customer_id, links, sets), tables)
        self._identity("expired").inc()
        return ()

    def _dead_letter(self, letter: Letter) -> Output:
        self._records("dead_lettered", letter.code.value).inc()
        # DEBUG: a flood of bad input must not cost more than the input itself;
        # every letter is counted by code (metric) and kept in the DLQ topic.
        log.debug("dead_lettered", code=letter.code.value)
        return Output(letter.topic, letter.key, letter.value)

    def _resolve(
        self,
        event: InteractionEvent,
        source: SourceRef,
        tables: Mapping[str, TableView],
        now: datetime,
        rotated: Mapping[str, str],
    ) -> list[Output]:
        seen = tables[SEEN_EVENTS]
        raw_first = seen.get(event.event_id)
        first = None if raw_first is None else FirstSighting.from_bytes(raw_first)
        sighting = classify(first, source)
        if sighting is Sighting.REPEAT:
            self._identity("duplicate").inc()
            log.info("duplicate_dropped", first_seen=first.source.model_dump() if first else None)
            return []
        if first is None:
            links, sets = self._views(tables)
            update = plan_identity_update(event, links, sets, now, rotated)
            self._apply_update(update, tables)
            resolution = update.resolution
            first = FirstSighting(
                source, resolution.customer_id, resolution.provisional, tuple(resolution.merges)
            )
            seen.put(event.event_id, first.to_bytes())
            if first.merges:
                self._metrics.merges.inc(len(first.merges))
        outputs = [
            self._output(
                merged,
                ResolvedRecord(
                    kind="merge_out", customer_id=merged, merge_target=first.customer_id
                ),
            )
            for merged in first.merges
        ]
        resolved = ResolvedRecord(
            kind="event", customer_id=first.customer_id, provisional=first.provisional, event=event
        )
        outputs.append(self._output(first.customer_id, resolved))
        self._identity("redelivered" if sighting is Sighting.REDELIVERY else "resolved").inc()
        log.debug(
            "resolved",
            customer_id=first.customer_id,
            provisional=first.provisional,
            merges=first.merges,
        )
        return outputs

    def _erase(self, request: ErasureRequest, tables: Mapping[str, TableView]) -> list[Output]:
        links, sets = self._views(tables)
        erasure = plan_erasure(request.customer_id, links, sets)
        self._apply_erasure(erasure, tables)
        self._identity("erasure").inc()
        log.info("identity_erased", links_deleted=len(erasure.link_deletes))
        out = ResolvedRecord(kind="erasure", customer_id=request.customer_id, erasure=request)
        return [self._output(request.customer_id, out)]

    def _output(self, customer_id: str, record: ResolvedRecord) -> Output:
        return Output(self._resolved_topic, customer_id.encode(), record.to_bytes())

    def _views(
        self, tables: Mapping[str, TableView]
    ) -> tuple[_Decoded[LinkRecord], _Decoded[IdentifierSet]]:
        return _Decoded(tables[LINKS], self._links), _Decoded(tables[IDENTIFIER_SETS], self._sets)

    def _apply_update(self, update: IdentityUpdate, tables: Mapping[str, TableView]) -> None:
        _write(tables[LINKS], self._links, update.link_writes, LinkRecord.to_bytes)
        _delete(tables[LINKS], self._links, update.link_deletes)
        _write(tables[IDENTIFIER_SETS], self._sets, update.set_writes, IdentifierSet.to_bytes)
        _delete(tables[IDENTIFIER_SETS], self._sets, update.set_deletes)

    def _apply_erasure(self, erasure: Erasure, tables: Mapping[str, TableView]) -> None:
        _delete(tables[LINKS], self._links, erasure.link_deletes)
        _delete(tables[IDENTIFIER_SETS], self._sets, erasure.set_deletes)


def _write(
    table: TableView,
    cache: DecodedCache[V],
    writes: Mapping[str, V],
    encode: Callable[[V], bytes],
) -> None:
    for key, value in writes.items():
        raw = encode(value)
        table.put(key, raw)
        # A hit needs the stored bytes, so a write the adapter drops is never served.
        cache.remember(key, raw, value)


def _delete(table: TableView, cache: DecodedCache[V], keys: Sequence[str]) -> None:
    for key in keys:
        table.delete(key)
        cache.forget(key)
