"""What the gateway holds while it runs: the producer, the upstream client, stream slots.

Built by `create_app`, started and stopped by its lifespan; handlers reach it
through closures, never through a module-level global.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from libs.common.guard import exit_for_denial
from libs.common.kafka import create_producer
from libs.common.kafka_security import denial_of, principal
from libs.common.logging import get_logger
from libs.common.topics import TopicNames
from services.gateway.ingest import Admitted, IngestLimits, NotWritten, Written
from services.gateway.metrics import GatewayMetrics
from services.gateway.settings import GatewaySettings

log = get_logger("concierge.gateway")


class NotStartedError(RuntimeError):
    pass


@dataclass
class BrokerCheck:
    """Readiness: does the broker answer a metadata request? Cached for `ttl` seconds
    so a probe storm does not become a metadata storm."""

    producer: AIOKafkaProducer
    ttl: float
    timeout: float = 3.0
    _checked_at: float = field(default=float("-inf"))
    _last: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def __call__(self) -> bool:
        async with self._lock:
            if time.monotonic() - self._checked_at < self.ttl:
                return self._last
            try:
                metadata = await asyncio.wait_for(
                    self.producer.client.fetch_all_metadata(), self.timeout
                )
                self._last = bool(metadata.brokers())
            except Exception:  # any failure to answer means "not ready"
                self._last = False
            self._checked_at = time.monotonic()
            return self._last


class NoStreamSlot(Enum):
    """Why a stream cannot open now."""

    all_taken = "all_taken"  # MAX_STREAMS: the gateway's capacity (503)
    key_at_limit = "key_at_limit"  # MAX_STREAMS_PER_KEY: this caller's share (429)


@dataclass
class GatewayRuntime:
    settings: GatewaySettings
    metrics: GatewayMetrics
    names: TopicNames
    limits: IngestLimits
    _producer: AIOKafkaProducer | None = None
    _http: httpx.AsyncClient | None = None
    _broker_check: BrokerCheck | None = None
    open_streams: int = 0
    # Open streams per API key (by its number), so no one key takes every slot.
    streams_by_key: dict[int, int] = field(default_factory=dict)

    @cached_property
    def kafka_principal(self) -> str:
        """Who the broker sees the gateway's clients as, for a refusal's line."""
        return principal(self.settings.common)

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise NotStartedError("the gateway's producer is not running")
        return self._producer

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise NotStartedError("the gateway's upstream client is not running")
        return self._http

    async def start(self) -> None:
        producer = create_producer(
            self.settings.common,
            client_id="concierge-gateway",
            linger_ms=self.settings.producer_linger_ms,
        )
        await producer.start()
        self._producer = producer
        self._broker_check = BrokerCheck(producer, ttl=self.settings.ready_cache_seconds)
        token = self.settings.common.query_token.get_secret_value()
        self._http = httpx.AsyncClient(
            # The workers' query endpoints want the token when one is set.
            headers={"Authorization": f"Bearer {token}"} if token else None,
            timeout=self.settings.upstream_timeout_seconds,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._producer is not None:
            # Flushes what is in flight: requests waiting on acks get them.
            await self._producer.stop()
            self._producer = None
        self._broker_check = None

    async def broker_ready(self) -> bool:
        return self._broker_check is not None and await self._broker_check()

    def take_stream_slot(self, key_number: int) -> NoStreamSlot | None:
        """Holds a slot for the key and returns None, or says why there is none."""
        if self.streams_by_key.get(key_number, 0) >= self.settings.max_streams_per_key:
            return NoStreamSlot.key_at_limit
        if self.open_streams >= self.settings.max_streams:
            return NoStreamSlot.all_taken
        self.streams_by_key[key_number] = self.streams_by_key.get(key_number, 0) + 1
        self.open_streams += 1
        self.metrics.streams_open.set(self.open_streams)
        return None

    def release_stream_slot(self, key_number: int) -> None:
        held = self.streams_by_key.pop(key_number) - 1
        if held:
            self.streams_by_key[key_number] = held
        self.open_streams -= 1
        self.metrics.streams_open.set(self.open_streams)


async def publish(
    producer: AIOKafkaProducer,
    admitted: Sequence[Admitted],
    ack_seconds: float,
    *,
    principal: str = "User:ANONYMOUS",
) -> dict[int, Written | NotWritten]:
    """Produce every admitted item and wait for Kafka to acknowledge each.

    Items are enqueued in order, so events of one key keep their order on its
    partition. Any item not acknowledged within `ack_seconds` (or refused by the
    client) is reported `NotWritten`; the caller must then fail the request. A
    write the broker refuses to ``principal`` (no ACL) stops the gateway with
    one line and exit 77: every request for that channel would fail until an
    operator fixes the ACLs, so it must not look like a passing outage.
    """
    writes: dict[int, Written | NotWritten] = {}
    pending: list[tuple[int, asyncio.Future[RecordMetadata]]] = []
    try:
        async with asyncio.timeout(ack_seconds):
            for item in admitted:
                future = await producer.send(item.topic, item.value, key=item.key)
                future.add_done_callback(_retrieve_outcome)
                pending.append((item.index, future))
            if pending:
                await asyncio.wait([future for _, future in pending])
    except TimeoutError:
        reason = f"Kafka did not acknowledge within {ack_seconds:g}s"
    except Exception as error:  # the client refused to enqueue: the broker is the cause
        exit_if_denied(error, principal, "WRITE")
        reason = f"Kafka refused the write: {type(error).__name__}"
    else:
        reason = "Kafka did not acknowledge the write"
    for index, future in pending:
        if future.done() and not future.cancelled() and future.exception() is None:
            metadata = future.result()
            writes[index] = Written(metadata.partition, metadata.offset)
        elif future.done() and not future.cancelled():
            exit_if_denied(future.exception(), principal, "WRITE")
            error_name = type(future.exception()).__name__
            writes[index] = NotWritten(f"Kafka refused the write: {error_name}")
        else:
            writes[index] = NotWritten(reason)
    for item in admitted:
        writes.setdefault(item.index, NotWritten(reason))
    return writes


def exit_if_denied(error: BaseException | None, principal: str, operation: str) -> None:
    """A refusal by the broker stops the gateway (libs/common/guard.py): every
    request that needs the refused topic would fail until the ACLs are fixed."""
    denial = None if error is None else denial_of(error, principal, operation)
    if denial is not None:
        exit_for_denial(log, denial)


def _retrieve_outcome(future: asyncio.Future[RecordMetadata]) -> None:
    # A write that fails after the request gave up must not log "exception
    # never retrieved": the request already answered 503.
    if not future.cancelled():
        future.exception()
