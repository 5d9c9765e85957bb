"""Per-message failure policy for Faust agents.

Faust acks a message whose handler raised, so an exception escaping an agent
loses that record. Every handler therefore runs inside ``Guard.run``:

- a Kafka or network failure (after aiokafka's own bounded retries) is
  transient: the process exits at once with ``EXIT_KAFKA_UNAVAILABLE`` without
  committing, so the orchestrator restarts it and the record is redelivered;
- any other exception is a bug on this record: it is dead-lettered to
  ``interactions.dlq`` with code ``internal_error`` and its source offset, so
  an operator can replay it once fixed, and the stream goes on.
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from aiokafka.errors import KafkaError
from faust.exceptions import PartitionsMismatch, ProducerSendError
from prometheus_client import Counter

from libs.common.logging import get_logger
from libs.contract.codec import to_json_bytes
from libs.contract.dlq import DeadLetter, ErrorCode, ErrorInfo, SourceRef

EXIT_KAFKA_UNAVAILABLE = 75  # EX_TEMPFAIL: try again later
# Faust wraps Kafka errors of attached sends in ProducerSendError.
# PartitionsMismatch: a table write checked against stale group metadata (a
# changelog created after the worker joined); a restart rejoins with fresh
# metadata, whereas a dead letter would drop a good record.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    KafkaError,
    ProducerSendError,
    PartitionsMismatch,
    ConnectionError,
    asyncio.TimeoutError,
)

T = TypeVar("T")
SendToDlq = Callable[[bytes | None, bytes], Awaitable[object]]
# Builds the dead letter for a record a handler failed on: (value, source, message).
LetterBuilder = Callable[[bytes | None, SourceRef, str], DeadLetter]


def raw_letter(value: bytes | None, source: SourceRef, message: str) -> DeadLetter:
    """The record as it was; right for internal topics, which hold no raw PII."""
    return DeadLetter(
        error=ErrorInfo(code=ErrorCode.internal_error, message=message, path=None),
        original=None if value is None else base64.b64encode(value).decode("ascii"),
        original_size=0 if value is None else len(value),
        source=source,
        rejected_at=datetime.now(UTC),
    )


def exit_for_redelivery(log: Any, error: BaseException, **fields: Any) -> NoReturn:
    """Exit at once, without committing: the orchestrator restarts the worker and the
    uncommitted records are redelivered; every stage is idempotent per event."""
    exit_for_restart(log, "kafka_unavailable_exiting", error=repr(error), **fields)


def exit_for_restart(log: Any, event: str, **fields: Any) -> NoReturn:
    log.critical(event, exit_code=EXIT_KAFKA_UNAVAILABLE, **fields)
    sys.stdout.flush()
    os._exit(EXIT_KAFKA_UNAVAILABLE)


class Guard:
    def __init__(
        self,
        service: str,
        send_to_dlq: SendToDlq,
        failures: Counter,
        letter_for: LetterBuilder = raw_letter,
        dlq_key: Callable[[bytes | None], bytes | None] = lambda key: key,
    ) -> None:
        self._service = service
        self._send_to_dlq = send_to_dlq
        self._failures = failures
        self._letter_for = letter_for
        self._dlq_key = dlq_key
        self._log = get_logger(f"concierge.{service}")

    async def run(
        self,
        handler: Callable[[], Awaitable[T]],
        *,
        key: bytes | None,
        value: bytes | None,
        source: SourceRef,
    ) -> T | None:
        """The handler's result, or None when the record was dead-lettered."""
        try:
            return await handler()
        except TRANSIENT_ERRORS as error:
            exit_for_redelivery(self._log, error, source=source.model_dump())
        except Exception as error:
            self._failures.labels(type(error).__name__).inc()
            self._log.exception("handler_failed_dead_lettered", source=source.model_dump())
            letter = self._letter_for(
                value, source, f"{self._service} failed on this record ({type(error).__name__})"
            )
            try:
                await self._send_to_dlq(self._dlq_key(key), to_json_bytes(letter))
            except Exception as send_error:
                # Not even the dead letter could be sent: don't let Faust ack it.
                exit_for_redelivery(self._log, send_error, source=source.model_dump())
            return None
