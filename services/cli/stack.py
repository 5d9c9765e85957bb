"""Start and stop the whole Concierge stack as local processes.

Each service runs as its own process (as in production), in its own session
so a stop reaches its children, with its log in ``<run_dir>/logs`` and its pid
in ``<run_dir>/pids``, so ``down`` works from any shell. ``up`` returns once
every service answers ``/ready``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from libs.common.addresses import is_loopback_host

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    default_port: int

    @property
    def port_variable(self) -> str:
        return f"CONCIERGE_{self.name.upper()}_HTTP_PORT"

    @property
    def data_variable(self) -> str | None:
        return None if self.name == "gateway" else f"CONCIERGE_{self.name.upper()}_DATA_DIR"


# Upstream first: each stage's input topic has a reader before data flows in.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("intake", "services.intake", 8091),
    ServiceSpec("decision", "services.decision", 8094),
    ServiceSpec("gateway", "services.gateway", 8080),
)


class StackError(RuntimeError):
    pass


def kafka_script(command: str, bootstrap: str) -> subprocess.CompletedProcess[str]:
    """deploy/kafka/kafka.sh for the loopback broker named by ``bootstrap``."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    env = dict(os.environ, KAFKA_HOST=host or "127.0.0.1", KAFKA_PORT=port, PYTHON=sys.executable)
    return subprocess.run(
        [str(REPO / "deploy" / "kafka" / "kafka.sh"), command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def is_loopback(bootstrap: str) -> bool:
    return is_loopback_host(bootstrap.split(",")[0].rpartition(":")[0])


def _write_private(path: Path, text: str) -> None:
    """Created readable by the owner only from the first byte (no chmod race)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def local_secrets(run_dir: Path) -> dict[str, str]:
    """A PII key and gateway API keys for a local stack, made once and kept in run_dir.

    Never used for a real deployment: there the operator sets them.
    """
    secret_dir = run_dir / "secrets"
    secret_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pii_file = secret_dir / "pii.key"
    if not pii_file.exists():
        _write_private(pii_file, secrets.token_hex(32))
    keys_file = secret_dir / "api-keys.json"
    if not keys_file.exists():
        all_scopes = ["events:write", "context:read", "decision:read", "actions:read"]
        keys: dict[str, dict[str, object]] = {
            f"{channel}-{secrets.token_hex(12)}": {"channel": channel, "scopes": all_scopes}
            for channel in ("web", "phone", "mobile", "store")
        }
        keys[f"operator-{secrets.token_hex(12)}"] = {"channel": None, "scopes": all_scopes}
        _write_private(keys_file, json.dumps(keys, indent=2))
    return {
        "CONCIERGE_INTAKE_PII_KEY": pii_file.read_text().strip(),
        "CONCIERGE_GATEWAY_API_KEYS": keys_file.read_text(),
    }


class Stack:
    def __init__(
        self,
        run_dir: Path,
        env: Mapping[str, str],
        services: Iterable[ServiceSpec] = SERVICES,
        ports: Mapping[str, int] | None = None,
        service_env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """``service_env``: variables for one service only (its Kafka principal)."""
        self.run_dir = run_dir
        self.service_env = service_env or {}
        self.services = tuple(services)
        # Explicit ports win, then CONCIERGE_<SERVICE>_HTTP_PORT, then the defaults.
        chosen = ports or {}
        self.ports = {
            spec.name: chosen.get(spec.name, int(env.get(spec.port_variable, spec.default_port)))
            for spec in self.services
        }
        self.base_env = dict(env)
        (run_dir / "logs").mkdir(parents=True, exist_ok=True)
        (run_dir / "pids").mkdir(parents=True, exist_ok=True)

    def spec(self, name: str) -> ServiceSpec:
        return next(spec for spec in self.services if spec.name == name)

    def log_path(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def _pid_path(self, name: str) -> Path:
        return self.run_dir / "pids" / f"{name}.pid"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env_for(self, spec: ServiceSpec) -> dict[str, str]:
        env = dict(self.base_env)
        env[spec.port_variable] = str(self.ports[spec.name])
        if spec.data_variable:
            env.setdefault(spec.data_variable, str(self.run_dir / "data" / spec.name))
        if spec.name == "gateway":
            # The decision worker answers both queries (it holds the contexts).
            env["CONCIERGE_GATEWAY_CONTEXT_URL"] = self.url("decision")
            env["CONCIERGE_GATEWAY_DECISION_URL"] = self.url("decision")
        env.update(self.service_env.get(spec.name, {}))
        return env

    def pid(self, name: str) -> int | None:
        try:
            pid = int(self._pid_path(name).read_text())
        except (FileNotFoundError, ValueError):
            return None
        _reap(pid)  # a child of ours that exited is a zombie until reaped
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def start(self, name: str) -> int:
        spec = self.spec(name)
        if (running := self.pid(name)) is not None:
            return running
        log = self.log_path(name).open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", spec.module],
            cwd=REPO,
            env=self.env_for(spec),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._pid_path(name).write_text(str(process.pid))
        return process.pid

    def is_ready(self, name: str) -> bool:
        try:
            return httpx.get(f"{self.url(name)}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, names: Iterable[str], timeout: float) -> None:
        pending = list(names)
        deadline = time.monotonic() + timeout
        while pending:
            for name in list(pending):
                if self.pid(name) is None:
                    raise StackError(f"{name} exited during start-up; see {self.log_path(name)}")
                if self.is_ready(name):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise StackError(
                    f"not ready within {timeout:.0f}s: {', '.join(pending)} "
                    f"(logs in {self.run_dir / 'logs'})"
                )
            if pending:
                time.sleep(0.25)

    def up(self, timeout: float = 120.0) -> None:
        for spec in self.services:
            self.start(spec.name)
        self.wait_ready([spec.name for spec in self.services], timeout)

    def signal(self, name: str, signum: int) -> None:
        pid = self.pid(name)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signum)

    def stop(self, name: str, timeout: float = 30.0) -> None:
        """SIGTERM, a graceful wait, then SIGKILL."""
        pid = self.pid(name)
        if pid is None:
            self._pid_path(name).unlink(missing_ok=True)
            return
        self.signal(name, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid(name) is not None and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if self.pid(name) is not None:
            self.signal(name, signal.SIGKILL)
            _wait_gone(pid, 10)
        self._forget(name, pid)

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would: no shutdown, no commit, no flush."""
        pid = self.pid(name)
        if pid is None:
            return
        self.signal(name, signal.SIGKILL)
        _wait_gone(pid, 10)
        self._forget(name, pid)

    def _forget(self, name: str, pid: int) -> None:
        """Drop the pid file if it still names ``pid``. A supervisor may have started
        the service again while we waited for the old process to go: dropping the
        new process's file would lose track of it (it then ran on, unstopped, as a
        second worker after a test's stack was down)."""
        path = self._pid_path(name)
        with contextlib.suppress(FileNotFoundError, ValueError):
            if int(path.read_text()) == pid:
                path.unlink(missing_ok=True)

    def down(self) -> None:
        for spec in reversed(self.services):
            self.stop(spec.name)

    def running(self) -> dict[str, int | None]:
        return {spec.name: self.pid(spec.name) for spec in self.services}


def _reap(pid: int) -> None:
    # Our own children must be reaped, or they linger as zombies that kill(0) still sees.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
