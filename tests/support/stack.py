"""Concierge services as real processes for integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from libs.common.settings import CommonSettings
from services.cli.stack import SERVICES, Stack, local_secrets


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def security_env(settings: CommonSettings) -> dict[str, str]:
    """The Kafka security settings as the services read them (empty for PLAINTEXT)."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    env = {
        "CONCIERGE_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
        "CONCIERGE_KAFKA_SASL_MECHANISM": settings.kafka_sasl_mechanism,
        "CONCIERGE_KAFKA_SASL_USERNAME": settings.kafka_sasl_username,
        "CONCIERGE_KAFKA_SASL_PASSWORD": settings.kafka_sasl_secret,
    }
    for name in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
        path = getattr(settings, name)
        if path is not None:
            env[f"CONCIERGE_{name.upper()}"] = str(path)
    return env


def stack_env(settings: CommonSettings, run_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONCIERGE_")}
    env.update(
        CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        CONCIERGE_TOPIC_PREFIX=settings.topic_prefix,
        CONCIERGE_PARTITIONS=str(settings.partitions),
        CONCIERGE_LOG_FORMAT="json",
        CONCIERGE_LOG_LEVEL="INFO",
        CONCIERGE_PARTITION_STALL_SECONDS=str(settings.partition_stall_seconds),
        CONCIERGE_LAG_EXPORT_SECONDS=str(settings.lag_export_seconds),
    )
    env.update(security_env(settings))
    query_token = settings.query_token.get_secret_value()
    if query_token:
        env["CONCIERGE_QUERY_TOKEN"] = query_token
    env.update(local_secrets(run_dir))
    return env


@contextmanager
def running_stack(
    settings: CommonSettings,
    run_dir: Path,
    *names: str,
    service_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[Stack]:
    """The named services (all when none), started and ready; stopped afterwards.
    ``service_env``: variables for one service only (its Kafka principal)."""
    wanted = [spec for spec in SERVICES if not names or spec.name in names]
    stack = Stack(
        run_dir,
        stack_env(settings, run_dir),
        wanted,
        ports={spec.name: free_port() for spec in wanted},
        service_env=service_env,
    )
    try:
        stack.up(timeout=120)
        yield stack
    finally:
        stack.down()


@asynccontextmanager
async def restarting(stack: Stack, *names: str) -> AsyncIterator[list[str]]:
    """While inside, start again any of ``names`` whose process has ended, as an
    orchestrator's restart policy would: a worker exits with code 75 to be
    restarted (records Faust dropped around a rebalance, docs/reliability.md).
    Yields the names restarted, in order."""
    restarted: list[str] = []

    async def watch() -> None:
        while True:
            for name in names:
                if stack.pid(name) is None:
                    stack.start(name)
                    restarted.append(name)
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch())
    try:
        yield restarted
    finally:
        watcher.cancel()
