from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from libs.common.logging import bound_ids, configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure_logging binds this test's captured stdout, closed after it: later
    tests that log (the stage handlers do) must not write to it."""
    handlers = logging.getLogger().handlers[:]
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers[:] = handlers


def _last_json_line(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    return dict(json.loads(lines[-1]))


def test_lines_are_json_with_the_ids_bound_for_the_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    with bound_ids(event_id="e-1", customer_id="c-9", decision_id=None):
        get_logger("t").info("handled", outcome="forwarded")
    line = _last_json_line(capsys)
    assert line["event"] == "handled"
    assert line["event_id"] == "e-1"
    assert line["customer_id"] == "c-9"
    assert "decision_id" not in line
    assert line["level"] == "info"
    get_logger("t").info("after")
    assert "event_id" not in _last_json_line(capsys)


def test_an_inner_block_adds_its_ids_and_the_outer_ones_come_back_after_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    log = get_logger("t")
    with bound_ids(event_id="e-1"):
        with bound_ids(customer_id="c-9"):
            log.info("inner")
            inner = _last_json_line(capsys)
        log.info("outer")
        outer = _last_json_line(capsys)
        with bound_ids(event_id="e-2"):
            log.info("replaced")
            replaced = _last_json_line(capsys)
        log.info("named", event_id="e-named")
        named = _last_json_line(capsys)
    assert (inner["event_id"], inner["customer_id"]) == ("e-1", "c-9")
    assert outer["event_id"] == "e-1"
    assert "customer_id" not in outer
    assert replaced["event_id"] == "e-2"
    assert named["event_id"] == "e-named"  # what a call names itself wins


def test_concurrent_handlers_log_their_own_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log = get_logger("t")

    async def handle(event_id: str, first: asyncio.Event, second: asyncio.Event) -> None:
        with bound_ids(event_id=event_id):
            first.set()
            await second.wait()  # the other task binds its id meanwhile
            log.info("handled", by=event_id)

    async def both() -> None:
        a_bound, b_bound = asyncio.Event(), asyncio.Event()
        await asyncio.gather(handle("e-a", a_bound, b_bound), handle("e-b", b_bound, a_bound))

    asyncio.run(both())
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert sorted((line["by"], line["event_id"]) for line in lines) == [
        ("e-a", "e-a"),
        ("e-b", "e-b"),
    ]


def test_pii_and_secrets_never_reach_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    get_logger("t").warning("rejected", phone="+447700900123", email="a@b.example", api_key="k-123")
    out = capsys.readouterr().out
    assert "+447700900123" not in out
    assert "a@b.example" not in out
    assert "k-123" not in out
    assert "[redacted]" in out


def test_level_filters_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", "json")
    get_logger("t").info("quiet")
    assert "quiet" not in capsys.readouterr().out


def test_a_library_exception_is_logged_with_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    offsets: dict[str, int] = {}
    try:
        offsets["missing-partition"]
    except KeyError:
        logging.getLogger("faust.transport.consumer").exception("Drain messages raised")
    line = _last_json_line(capsys)
    assert line["logger"] == "faust.transport.consumer"
    assert "exc_info" not in line
    exception = str(line["exception"])
    assert exception.startswith("Traceback (most recent call last):")
    assert "test_a_library_exception_is_logged_with_its_traceback" in exception
    assert exception.endswith("KeyError: 'missing-partition'")
