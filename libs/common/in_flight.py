"""Acknowledge a record only once what it produced is in Kafka, in input order.

A stateful stage that records "done" in its table as soon as it has *queued*
its outputs loses them if it dies before the producer delivered them: the
record is redelivered, the table says it was handled, and nothing is sent
again (docs/reliability.md, failure mode 2). Awaiting each send before the
next record would cost a broker round trip per record.

So a handler returns a ``Deferred``: the sends it queued and the bookkeeping to
do once they are delivered (``then``, e.g. a table write). The window keeps
records in input order; a record is *settled* (``then`` run in the record's own
context, so Faust writes its table's changelog to the record's partition; then
acknowledged) only when its sends and every earlier record's are delivered.
The handler keeps its own pending state readable in memory meanwhile, so the
next record of the same key sees it.

A crash before settling leaves the record unacknowledged and its ``then``
undone: it is redelivered and handled again, with the same ids.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

EventT = TypeVar("EventT")


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Deferred:
    """What a handler queued, and what to record once Kafka acknowledged it."""

    # The futures Faust's Topic.send returns (typed there as plain awaitables).
    sends: Sequence[Awaitable[Any]] = ()
    then: Callable[[], None] = field(default=_nothing)


@dataclass
class _Entry(Generic[EventT]):
    event: EventT
    sends: Sequence[asyncio.Future[Any]]
    then: Callable[[], None]
    context: contextvars.Context

    def delivered(self) -> bool:
        return all(send.done() for send in self.sends)

    def failure(self) -> BaseException | None:
        for send in self.sends:
            if send.cancelled():
                return asyncio.CancelledError("send cancelled")
            error = send.exception()
            if error is not None:
                return error
        return None


class InFlight(Generic[EventT]):
    """Records handled but not yet acknowledged, oldest first."""

    def __init__(
        self,
        ack: Callable[[EventT], Awaitable[object]],
        on_send_failed: Callable[[BaseException], None],
        max_in_flight: int = 1000,
    ) -> None:
        self._ack = ack
        self._on_send_failed = on_send_failed
        self._max_in_flight = max_in_flight
        self._entries: deque[_Entry[EventT]] = deque()
        # The loop keeps only weak references to tasks.
        self._settling: set[asyncio.Task[int]] = set()

    def __len__(self) -> int:
        return len(self._entries)

    async def add(self, event: EventT, deferred: Deferred | None) -> None:
        """Track ``event`` (call it inside the record's context); settle what is ready,
        and wait while the window is full."""
        sends = () if deferred is None else tuple(map(asyncio.ensure_future, deferred.sends))
        then = _nothing if deferred is None else deferred.then
        entry = _Entry(event, sends, then, contextvars.copy_context())
        self._entries.append(entry)
        pending = [send for send in sends if not send.done()]
        if pending:
            # Settle as soon as delivered, even if no further record arrives.
            gathered = asyncio.gather(*pending, return_exceptions=True)
            gathered.add_done_callback(self._settle_soon)
        await self.settle()
        while len(self._entries) > self._max_in_flight:
            head = self._entries[0]
            await asyncio.wait(head.sends)
            await self.settle()

    def _settle_soon(self, _: object) -> None:
        task = asyncio.get_running_loop().create_task(self.settle())
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def settle(self) -> int:
        """Settle every record at the head whose sends (and predecessors') are delivered."""
        ready: list[_Entry[EventT]] = []
        while self._entries and self._entries[0].delivered():
            entry = self._entries.popleft()
            error = entry.failure()
            if error is not None:
                # Not delivered after the client's retries: this record must not be
                # acknowledged, nor anything after it.
                self._entries.appendleft(entry)
                self._on_send_failed(error)
                break
            entry.context.run(entry.then)
            ready.append(entry)
        for entry in ready:
            await self._ack(entry.event)
        return len(ready)
