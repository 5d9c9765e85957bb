"""The stack keeps track of a service restarted while it was being killed or stopped."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from services.cli import stack as stack_module
from services.cli.stack import ServiceSpec, Stack

SLEEPER = ServiceSpec("sleeper", "tests.support.sleeper", 0)


def _alive(pid: int) -> bool:
    stack_module._reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_a_service_started_again_while_the_old_one_went_stays_tracked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    stack = Stack(tmp_path, {}, [SLEEPER], ports={"sleeper": 1})
    first = stack.start("sleeper")
    wait_gone = stack_module._wait_gone
    started_again: list[int] = []

    def supervisor_restarts_meanwhile(pid: int, timeout: float) -> None:
        wait_gone(pid, timeout)
        # As a supervisor would on seeing the process gone, before kill/stop returns.
        started_again.append(stack.start("sleeper"))

    monkeypatch.setattr(stack_module, "_wait_gone", supervisor_restarts_meanwhile)
    if how == "stop":
        # SIGTERM must not end it, so that stop() waits and then SIGKILLs.
        monkeypatch.setattr(stack, "signal", _ignore_term(stack))
    try:
        if how == "kill":
            stack.kill("sleeper")
        else:
            stack.stop("sleeper", timeout=0.2)
        (second,) = started_again
        assert second != first
        assert not _alive(first)
        assert stack.pid("sleeper") == second
        monkeypatch.undo()  # a plain stop now
        stack.down()
        assert not _alive(second)
    finally:
        for pid in (first, *started_again):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _ignore_term(stack: Stack) -> Callable[[str, int], None]:
    send = stack.signal

    def only_kill(name: str, signum: int) -> None:
        if signum == signal.SIGKILL:
            send(name, signum)

    return only_kill
