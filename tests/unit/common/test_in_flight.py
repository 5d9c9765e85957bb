"""A record is acknowledged only after its outputs are delivered, in input order."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable

import pytest

from libs.common.in_flight import Deferred, InFlight

current_record: contextvars.ContextVar[str] = contextvars.ContextVar("current_record")


class Recorder:
    def __init__(self) -> None:
        self.acked: list[str] = []
        self.written: list[tuple[str, str]] = []
        self.failures: list[BaseException] = []
        self.changed = asyncio.Event()

    async def ack(self, record: str) -> None:
        self.acked.append(record)
        self.changed.set()

    def fail(self, error: BaseException) -> None:
        self.failures.append(error)
        self.changed.set()

    def write(self, record: str) -> None:
        # Which record's context the bookkeeping runs in (Faust picks the
        # changelog partition from it).
        self.written.append((record, current_record.get("none")))

    def window(self, max_in_flight: int = 100) -> InFlight[str]:
        return InFlight(self.ack, self.fail, max_in_flight)


async def handled(window: InFlight[str], record: str, deferred: Deferred | None) -> None:
    """What the agent does per record: inside that record's context."""
    token = current_record.set(record)
    try:
        await window.add(record, deferred)
    finally:
        current_record.reset(token)


async def until(recorder: Recorder, condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(2.0):
        while not condition():
            recorder.changed.clear()
            await recorder.changed.wait()


async def test_a_record_without_outputs_is_acknowledged_at_once() -> None:
    recorder = Recorder()
    window = recorder.window()
    await handled(window, "a", None)
    assert recorder.acked == ["a"]
    assert len(window) == 0


async def test_bookkeeping_and_ack_wait_for_delivery_and_run_in_the_records_context() -> None:
    recorder = Recorder()
    window = recorder.window()
    sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    await handled(window, "a", Deferred((sent,), lambda: recorder.write("a")))
    assert recorder.acked == []
    assert recorder.written == []

    sent.set_result(None)
    # No further record arrives: delivery alone settles it.
    await until(recorder, lambda: recorder.acked == ["a"])
    assert recorder.written == [("a", "a")]


async def test_later_records_wait_for_an_earlier_undelivered_one() -> None:
    recorder = Recorder()
    window = recorder.window()
    loop = asyncio.get_running_loop()
    slow: asyncio.Future[None] = loop.create_future()
    fast: asyncio.Future[None] = loop.create_future()
    await handled(window, "a", Deferred((slow,), lambda: recorder.write("a")))
    await handled(window, "b", Deferred((fast,), lambda: recorder.write("b")))
    await handled(window, "c", None)
    fast.set_result(None)
    assert await window.settle() == 0  # "a" is still out: nothing after it settles
    assert recorder.acked == []
    assert recorder.written == []

    slow.set_result(None)
    await until(recorder, lambda: len(recorder.acked) == 3)
    assert recorder.acked == ["a", "b", "c"]
    assert recorder.written == [("a", "a"), ("b", "b")]


async def test_a_failed_send_is_reported_and_neither_it_nor_later_records_are_acked() -> None:
    recorder = Recorder()
    window = recorder.window()
    failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    await handled(window, "a", Deferred((failed,), lambda: recorder.write("a")))
    await handled(window, "b", None)
    failed.set_exception(ConnectionError("broker gone"))
    await until(recorder, lambda: bool(recorder.failures))
    assert isinstance(recorder.failures[0], ConnectionError)
    assert recorder.acked == []
    assert recorder.written == []
    assert len(window) == 2


async def test_a_full_window_holds_the_handler_until_the_oldest_is_delivered() -> None:
    recorder = Recorder()
    window = recorder.window(max_in_flight=2)
    loop = asyncio.get_running_loop()
    first: asyncio.Future[None] = loop.create_future()
    await handled(window, "a", Deferred((first,)))
    await handled(window, "b", Deferred((loop.create_future(),)))
    third = asyncio.create_task(handled(window, "c", None))
    done, _ = await asyncio.wait({third}, timeout=0.05)
    assert not done

    first.set_result(None)
    await asyncio.wait_for(third, timeout=2)
    assert recorder.acked == ["a"]
    assert len(window) == 2


@pytest.mark.parametrize("records", [1, 50])
async def test_everything_delivered_is_acknowledged_exactly_once(records: int) -> None:
    recorder = Recorder()
    window = recorder.window()
    loop = asyncio.get_running_loop()
    sends = [loop.create_future() for _ in range(records)]
    for index, sent in enumerate(sends):
        await handled(window, str(index), Deferred((sent,)))
    for sent in reversed(sends):
        sent.set_result(None)
    await until(recorder, lambda: len(recorder.acked) == records)
    assert await window.settle() == 0
    assert len(window) == 0
    assert recorder.acked == [str(i) for i in range(records)]
