"""One way to build a Faust app, so every stateful service gets the same guarantees.

- at-least-once processing; ``exactly_once`` is not used (open Faust bugs), so
  services make effects idempotent with ids kept in their tables;
- producers with ``acks=all`` and idempotence on (Faust turns idempotence on
  only in exactly-once mode, hence ``IdempotentProducer``);
- RocksDB tables with small, explicit caches: RocksDB opens one database per
  partition, and Faust's defaults (2 GiB block cache, 3 x 64 MiB write buffers
  per database) would not fit every partition of every service on one machine;
- internal topics (changelogs) named after the app id, which carries the
  deployment's topic prefix, so they never collide with contract topics;
- a closed web surface: Faust's own views (``/table/...`` hands out raw table
  values, ``/router/`` the partition map) are off, so a worker serves only
  /health, /ready, /metrics and the queries a service adds, and it advertises
  the URL other replicas forward a query to (``advertised_url``).
"""

from __future__ import annotations

import hmac
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, cast

import faust
from aiohttp import web as aiohttp_web
from faust.sensors import Sensor
from faust.transport.drivers.aiokafka import Producer, credentials_to_aiokafka_auth
from faust.web import Request, Response, View
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from mode.utils.times import Seconds
from prometheus_client import CollectorRegistry, Counter

from libs.common.addresses import is_loopback_host
from libs.common.guard import (
    exit_for_redelivery,
)
from libs.common.health import HealthState
from libs.common.kafka_security import faust_credentials, principal, principal_of
from libs.common.logging import get_logger
from libs.common.loop_delay import LoopDelay
from libs.common.settings import CommonSettings
from libs.common.telemetry import instrument_process
from libs.common.topics import ERASED_WITHIN_MS

# Per RocksDB database (one per table partition). With 4 partitions: intake 3
# tables x 1 partition, decision 3 x 4 = 15 databases, so
# ~15 x (8 + 2 x 4) MiB = ~0.25 GiB worst case for the whole stack.
ROCKSDB_OPTIONS: Mapping[str, Any] = {
    "driver": "rocksdict",
    "block_cache_size": 8 * 1024 * 1024,
    "block_cache_compressed_size": 0,
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 16 * 1024 * 1024,
    "max_open_files": 256,
}


STALL_CHECK_SECONDS = 5.0
TELEMETRY_ATTRIBUTE = "_concierge_telemetry"
SEEK_WAIT_SECONDS = 10.0


class IdempotentProducer(Producer):
    """Faust's aiokafka producer with idempotence on outside exactly-once mode."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


QUERY_PATHS = "/v1/"


class ClosedWeb(AiohttpWeb):
    """Faust's aiohttp web server without its index page either ("/" says
    {"status": "OK"} to anyone): registered as the ``concierge`` web driver in
    pyproject.toml. The table, router, graph and stats views are off by setting;
    with a query token, every query (a path under /v1/) needs it."""

    production_blueprints: ClassVar[Any] = ()

    def require_token(self, allowed: Callable[[Any], bool]) -> None:
        @aiohttp_web.middleware
        async def check_token(request: Any, handler: Any) -> Any:
            if request.path.startswith(QUERY_PATHS) and not allowed(request):
                body = {
                    "type": "about:blank",
                    "title": "Unauthorized",
                    "status": 401,
                    "detail": "this query needs the worker's query token (CONCIERGE_QUERY_TOKEN)",
                }
                return aiohttp_web.json_response(
                    body, status=401, content_type="application/problem+json"
                )
            return await handler(request)

        self.web_app.middlewares.append(check_token)


class ExitOnSendError(Sensor):
    """A record Faust failed to deliver (after the client's retries) must not be
    committed past: Faust only logs it, so the worker exits for redelivery."""

    def __init__(self, principal: str) -> None:
        super().__init__()
        self.principal = principal

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        exit_for_redelivery(
            get_logger("concierge.worker"), exc, principal=self.principal, operation="WRITE"
        )


def bootstrap_servers(app: faust.App) -> str:
    """The app's brokers as a Kafka client's bootstrap list."""
    return ",".join(f"{url.host}:{url.port}" for url in app.conf.broker)


def app_principal(app: faust.App) -> str:
    """The principal the app's clients authenticate as."""
    return principal_of(credentials_to_aiokafka_auth(app.conf.broker_credentials))


def kafka_connection(app: faust.App) -> dict[str, Any]:
    """The app's brokers and credentials as aiokafka client options
    (libs.common.kafka.connection, for clients made beside the worker's own)."""
    return {
        "bootstrap_servers": bootstrap_servers(app),
        **credentials_to_aiokafka_auth(app.conf.broker_credentials),
    }


def broker_url(settings: CommonSettings) -> str:
    # "concierge://" selects libs.common.batch_stage.BatchTransport (registered
    # as a Faust transport entry point in pyproject.toml).
    servers = [
        server.strip() for server in settings.kafka_bootstrap_servers.split(",") if server.strip()
    ]
    return ";".join(f"concierge://{server}" for server in servers)


def advertised(settings: CommonSettings, web_port: int, advertised_url: str | None) -> str:
    """Where other replicas reach this worker: the setting, else the bind address,
    else (bound to every interface) this host's name."""
    if advertised_url:
        return advertised_url
    host = settings.http_host
    if host in {"0.0.0.0", "::", ""}:
        host = socket.gethostname()
    return f"http://{host}:{web_port}"


def create_faust_app(
    service: str,
    settings: CommonSettings,
    *,
    web_port: int,
    data_dir: Path,
    advertised_url: str | None = None,
    standby_replicas: int = 0,
    commit_interval: Seconds = 1.0,
    single_writer: bool = False,
) -> faust.App:
    """``single_writer``: every active partition goes to one worker, the others
    wait as hot standbys (libs.common.batch_stage.SingleWriterAssignor)."""
    app_id = f"{settings.topic_prefix}concierge-{service}"
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        app_id,
        broker=broker_url(settings),
        broker_credentials=faust_credentials(settings),
        store="rocksdb://",
        datadir=str(data_dir),
        web_enabled=True,
        web="concierge://",
        web_host=settings.http_host,
        web_port=web_port,
        web_bind=settings.http_host,
        web_in_thread=False,
        # Carried in the group's assignment: table_route forwards a query here.
        canonical_url=advertised(settings, web_port, advertised_url),
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        producer_acks=-1,
        producer_linger_ms=settings.producer_linger_ms,
        # Contexts travel whole (5 KB typical) and every table write adds a
        # changelog record: Faust's 16 KiB batches held about three of them.
        producer_max_batch_size=512 * 1024,
        producer_max_request_size=4 * 1024 * 1024,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        table_standby_replicas=standby_replicas,
        broker_commit_interval=commit_interval,
        # A crashed worker's partitions move after 10 s, not Faust's 60 s default.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        table_cleanup_interval=60.0,
        stream_wait_empty=True,
        worker_redirect_stdouts=False,
        autodiscover=False,
        # Our records are bytes that the contract models decode; Faust only moves them.
        key_serializer="raw",
        value_serializer="raw",
    )
    if single_writer:
        app.conf.PartitionAssignor = "libs.common.batch_stage:SingleWriterAssignor"  # type: ignore[assignment]
    app.sensors.add(ExitOnSendError(principal(settings)))
    if settings.query_token.get_secret_value():
        cast(ClosedWeb, app.web).require_token(query_guard(settings))
    return app


def create_table(
    app: faust.App,
    name: str,
    *,
    partitions: int,
    help: str,
    ttl: timedelta | None = None,
) -> Any:
    """A RocksDB table of bytes -> bytes; domain records encode themselves.

    With ``ttl``, entries are bounded in time on both sides: RocksDB drops them
    at compaction past the TTL, and the changelog deletes segments past it.
    """
    options: dict[str, Any] = dict(ROCKSDB_OPTIONS)
    # Same configs as libs.common.topics.changelog_topics, which creates them.
    topic_configs: dict[str, str] = {"max.compaction.lag.ms": str(ERASED_WITHIN_MS)}
    if ttl is not None:
        options["ttl"] = int(ttl.total_seconds())
        topic_configs["cleanup.policy"] = "compact,delete"
        topic_configs["retention.ms"] = str(int(ttl.total_seconds() * 1000))
    return app.Table(
        name,
        default=None,
        partitions=partitions,
        help=help,
        options=options,
        # bytes types select the raw codec: keys must hash like the topics'
        # raw keys, or table_route would send a query to the wrong worker.
        key_type=bytes,
        value_type=bytes,
        extra_topic_configs=topic_configs,
    )


@dataclass(frozen=True)
class Telemetry:
    """One service's metrics registry and health, and its count of dead-lettered bugs."""

    health: HealthState
    failures: Counter

    @property
    def registry(self) -> CollectorRegistry:
        return self.health.registry


def observe(app: faust.App, service: str) -> Telemetry:
    """A metrics registry, /health, /ready (worker joined and recovered) and /metrics
    (with how late the worker's event loop runs: ``libs/common/loop_delay.py``)."""
    health = HealthState(service, registry=CollectorRegistry())
    instrument_process(health.registry, service)
    # Started with the worker, on the loop the stage handles records on.
    app.task(LoopDelay(health.registry).watch)
    health.add_readiness_check("worker", lambda: faust_ready(app))
    install_health_views(app, health)
    failures = Counter(
        f"concierge_{service}_failures",
        "Records dead-lettered by a handler bug",
        ["error"],
        registry=health.registry,
    )
    telemetry = Telemetry(health, failures)
    app.__dict__[TELEMETRY_ATTRIBUTE] = telemetry
    return telemetry


def telemetry_of(app: faust.App) -> Telemetry:
    """The telemetry ``observe`` gave the app (for tests and operators)."""
    telemetry: Telemetry = app.__dict__[TELEMETRY_ATTRIBUTE]
    return telemetry


def faust_ready(app: faust.App) -> bool:
    """Ready once the worker has joined its group and recovered its tables."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    return bool(
        app.producer is not None
        and not app.rebalancing
        and not recovery.in_recovery
        and recovery.completed.is_set()
    )


def unguarded_queries(settings: CommonSettings) -> str | None:
    """Why a worker must not serve its queries as configured, or None.

    Without a query token anyone who reaches the port reads any customer's
    context: fine on loopback, or on a network the operator says is trusted
    (``CONCIERGE_QUERY_OPEN``), a refusal anywhere else (an empty Secret, say)."""
    if settings.query_token.get_secret_value() or settings.query_open:
        return None
    host = settings.http_host
    if is_loopback_host(host):
        return None
    where = repr(host) if host else "every interface"
    return (
        f"CONCIERGE_QUERY_TOKEN is empty and the queries would answer anyone who reaches"
        f" {where}: set the token (the gateway and the CLI send it), bind"
        " CONCIERGE_HTTP_HOST to loopback, or set CONCIERGE_QUERY_OPEN=true on a trusted"
        " network"
    )


def query_guard(settings: CommonSettings) -> Callable[[Request], bool]:
    """Whether a request may read a query endpoint: with ``query_token`` set, only
    one that carries it as ``Authorization: Bearer <token>`` (the gateway does)."""
    token = settings.query_token.get_secret_value()
    expected = f"Bearer {token}".encode()

    def allowed(request: Request) -> bool:
        if not token:
            return True
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, expected)

    return allowed


def install_health_views(app: faust.App, state: HealthState) -> None:
    """Serve /health, /ready and /metrics from the worker's own web server."""

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json(state.liveness())

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            is_ready, body = await state.readiness()
            return self.json(body, status=200 if is_ready else 503)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            payload, content_type = state.metrics()
            return self.bytes(payload, content_type=content_type.split(";")[0])
