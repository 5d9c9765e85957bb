"""Failure policy of the batch stages (libs/common/batch_stage.py).

- a Kafka or network failure (after aiokafka's own bounded retries) is
  transient: the process exits at once with ``EXIT_KAFKA_UNAVAILABLE`` without
  committing, so the orchestrator restarts it and the records are redelivered;
- a refusal from the broker (authentication, or an ACL the principal lacks)
  is not transient: restarting would loop forever, so the process exits with
  ``EXIT_KAFKA_DENIED`` and one line naming the principal, the operation and
  the topic or group;
- any other exception in a handler is a bug on that record: it is
  dead-lettered to ``interactions.dlq`` with code ``internal_error`` and its
  source offset (built here), so an operator can replay it once fixed, and the
  stream goes on.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

from libs.common.kafka_security import Denial, denial_of
from libs.contract.dlq import DeadLetter, ErrorCode, ErrorInfo, SourceRef

EXIT_KAFKA_UNAVAILABLE = 75  # EX_TEMPFAIL: try again later
EXIT_KAFKA_DENIED = 77  # EX_NOPERM: fix the credentials or the ACLs; a restart will not
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


def exit_for_redelivery(
    log: Any, error: BaseException, *, principal: str, operation: str, **fields: Any
) -> NoReturn:
    """Exit at once, without committing: the orchestrator restarts the worker and the
    uncommitted records are redelivered; every stage is idempotent per event. A
    refusal by the broker exits for good instead (``exit_for_denial``).
    ``operation``: what was being done (READ, WRITE), for that line."""
    denial = denial_of(error, principal, operation)
    if denial is not None:
        exit_for_denial(log, denial)
    exit_for_restart(log, "kafka_unavailable_exiting", error=repr(error), **fields)


def exit_for_denial(log: Any, denial: Denial) -> NoReturn:
    log.critical(
        "kafka_access_denied",
        detail=str(denial),
        principal=denial.principal,
        operation=denial.operation,
        resource=denial.resource,
        exit_code=EXIT_KAFKA_DENIED,
    )
    sys.stdout.flush()
    os._exit(EXIT_KAFKA_DENIED)


def exit_for_restart(log: Any, event: str, **fields: Any) -> NoReturn:
    log.critical(event, exit_code=EXIT_KAFKA_UNAVAILABLE, **fields)
    sys.stdout.flush()
    os._exit(EXIT_KAFKA_UNAVAILABLE)
