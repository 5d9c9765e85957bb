"""Starting and stopping what a ladder needs: topics, the system's processes, the generator.

Each helper process (generator, relay) is started by pid and stopped by that
pid alone; Concierge's services go through ``services.cli.stack.Stack``, as
``concierge up`` starts them, each in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e.schedule import GeneratorReport
from bench.e2e.systems import CONCIERGE, CONCIERGE_SERVICES, RelayHop, SystemPlan
from libs.common.kafka import create_admin
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from services.cli.stack import REPO, SERVICES, Stack, local_secrets

READY_TIMEOUT_S = 60.0
STACK_READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0


class LaunchError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environment() -> dict[str, str]:
    """The caller's environment without Concierge settings, which each child gets explicitly."""
    return {key: value for key, value in os.environ.items() if not key.startswith("CONCIERGE_")}


async def provision_topics(bootstrap: str, prefix: str, partitions: int) -> None:
    settings = CommonSettings(
        kafka_bootstrap_servers=bootstrap, topic_prefix=prefix, partitions=partitions
    )
    report = await provision(settings)
    if not report.ok:
        raise LaunchError(f"provisioning {prefix}* failed: {report}")


async def delete_topics(bootstrap: str, prefix: str) -> int:
    """Delete every topic of this run (its prefix is unique to it), changelogs included."""
    admin = create_admin(CommonSettings(kafka_bootstrap_servers=bootstrap), "bench-cleanup")
    await admin.start()
    try:
        ours = [topic for topic in await admin.list_topics() if topic.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
        return len(ours)
    finally:
        await admin.close()


class ChildProcess:
    """A ``python -m`` helper that announces readiness with one JSON line on stdout."""

    def __init__(self, name: str, args: list[str], log_path: Path) -> None:
        self.name = name
        self.args = args
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise LaunchError(f"{self.name} is not started")
        return self.process.pid

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                *self.args,
                cwd=REPO,
                env=clean_environment(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )

    async def read_json(self, wait_seconds: float) -> dict[str, object]:
        if self.process is None or self.process.stdout is None:
            raise LaunchError(f"{self.name} is not started")
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), wait_seconds)
        except TimeoutError as error:
            raise LaunchError(f"{self.name} said nothing in {wait_seconds:.0f}s") from error
        if not line:
            raise LaunchError(f"{self.name} exited; see {self.log_path}")
        reply: dict[str, object] = json.loads(line)
        return reply

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None:
            process.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class Generator(ChildProcess):
    def __init__(self, bootstrap: str, linger_ms: int, max_lag_ms: float, log_dir: Path) -> None:
        args = ["-m", "bench.e2e.generator", "--bootstrap", bootstrap]
        args += ["--linger-ms", str(linger_ms), "--max-lag-ms", str(max_lag_ms)]
        super().__init__("generator", args, log_dir / "generator.log")

    async def start(self) -> None:
        await super().start()
        await self.read_json(READY_TIMEOUT_S)

    async def play(self, plan_path: Path, start_ns: int, wait_seconds: float) -> GeneratorReport:
        if self.process is None or self.process.stdin is None:
            raise LaunchError("generator is not started")
        command = {"plan": str(plan_path), "start_ns": start_ns}
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        return GeneratorReport.from_dict(await self.read_json(wait_seconds))


def relay_process(hop: RelayHop, bootstrap: str, linger_ms: int, log_dir: Path) -> ChildProcess:
    args = ["-m", "bench.e2e.relay", "--bootstrap", bootstrap, "--group", hop.group]
    args += ["--inputs", ",".join(hop.inputs), "--output", hop.output, "--key", hop.key]
    args += ["--linger-ms", str(linger_ms)]
    return ChildProcess(hop.name, args, log_dir / f"{hop.name}.log")


@dataclass
class RunningSystem:
    """The processes of one system under test, by name, and how to stop them."""

    plan: SystemPlan
    children: list[ChildProcess] = field(default_factory=list)
    stack: Stack | None = None
    # More decision workers (scaling stage 2 by partitions), each its own Stack
    # as a second deployment of the service would be: own port, own data dir.
    extra_workers: list[Stack] = field(default_factory=list)

    def pids(self) -> dict[str, int]:
        pids = {child.name: child.pid for child in self.children}
        for number, stack in enumerate([self.stack, *self.extra_workers]):
            if stack is None:
                continue
            for name, pid in stack.running().items():
                if pid is not None:
                    pids[name if number == 0 else f"{name}-{number + 1}"] = pid
        return pids

    async def stop(self) -> None:
        for child in self.children:
            await child.stop()
        for stack in [*self.extra_workers, self.stack]:
            if stack is not None:
                await asyncio.to_thread(stack.down)


def _exit_status(pid: int) -> int | None:
    """The exit status of our child ``pid`` if it has exited (reaping it), else None.

    ``kill(pid, 0)`` alone would see an unreaped child as alive and wait out
    the whole timeout for a service that crashed at start-up.
    """
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if reaped else None


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return ""
    return lines[-1][:300] if lines else ""


async def _wait_ready(stack: Stack, names: list[str]) -> None:
    pending = list(names)
    while pending:
        for name in list(pending):
            pid = stack.pid(name)
            status = None if pid is None else _exit_status(pid)
            if pid is None or status is not None:
                how = "" if status is None else f" with status {status}"
                raise LaunchError(
                    f"{name} exited during start-up{how}: "
                    f"{_last_line(stack.log_path(name))} (log: {stack.log_path(name)})"
                )
            if await asyncio.to_thread(stack.is_ready, name):
                pending.remove(name)
        if pending:
            await asyncio.sleep(0.25)


def concierge_environment(
    bootstrap: str, prefix: str, partitions: int, log_level: str, run_dir: Path, linger_ms: int
) -> dict[str, str]:
    env = clean_environment()
    env.update(
        CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        CONCIERGE_TOPIC_PREFIX=prefix,
        CONCIERGE_PARTITIONS=str(partitions),
        # The same linger as every other producer of the run.
        CONCIERGE_PRODUCER_LINGER_MS=str(linger_ms),
        CONCIERGE_LOG_FORMAT="json",
        CONCIERGE_LOG_LEVEL=log_level,
    )
    env.update(local_secrets(run_dir))
    return env


async def start_system(
    plan: SystemPlan,
    bootstrap: str,
    partitions: int,
    linger_ms: int,
    concierge_log_level: str,
    run_dir: Path,
    decision_workers: int = 1,
) -> RunningSystem:
    """``decision_workers``: Concierge's stage 2 in that many processes, sharing
    its partitions (the others wait as standbys when there are fewer partitions)."""
    running = RunningSystem(plan)
    try:
        if plan.name == CONCIERGE:
            wanted = [spec for spec in SERVICES if spec.name in CONCIERGE_SERVICES]
            env = concierge_environment(
                bootstrap, plan.prefix, partitions, concierge_log_level, run_dir, linger_ms
            )
            stack = Stack(run_dir, env, wanted, ports={spec.name: free_port() for spec in wanted})
            running.stack = stack
            for spec in wanted:
                stack.start(spec.name)
            decision = [spec for spec in wanted if spec.name == "decision"]
            for number in range(2, decision_workers + 1):
                worker = Stack(
                    run_dir / f"decision-{number}", env, decision, ports={"decision": free_port()}
                )
                running.extra_workers.append(worker)
                worker.start("decision")
            try:
                async with asyncio.timeout(STACK_READY_TIMEOUT_S):
                    await _wait_ready(stack, [spec.name for spec in wanted])
                    for worker in running.extra_workers:
                        await _wait_ready(worker, ["decision"])
            except TimeoutError as error:
                raise LaunchError(
                    f"Concierge not ready within {STACK_READY_TIMEOUT_S:.0f}s "
                    f"(logs in {stack.run_dir / 'logs'})"
                ) from error
        for hop in plan.relays:
            child = relay_process(hop, bootstrap, linger_ms, run_dir / "logs")
            running.children.append(child)
            await child.start()
        for child in running.children:
            await child.read_json(READY_TIMEOUT_S)
    except BaseException:
        await running.stop()
        raise
    return running
