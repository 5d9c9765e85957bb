"""Run a service process: one entrypoint shape for every service.

Start-up fails fast, with one line that names the problem, on a bad setting,
a taken port or an unreachable broker, so an orchestrator's restart loop shows
the cause instead of a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

import faust
from faust.worker import Worker
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from libs.common.access import service_uses
from libs.common.broker_probe import BrokerUnreachableError, wait_for_broker
from libs.common.faust_app import unguarded_queries
from libs.common.guard import exit_for_denial
from libs.common.health import PortInUseError, ensure_port_free
from libs.common.kafka_security import Denial, KafkaAccessDenied, principal
from libs.common.logging import configure_logging, get_logger
from libs.common.provision import provision
from libs.common.settings import CommonSettings, UnknownSettingError, load_settings
from libs.common.topics import TopicNames

SettingsT = TypeVar("SettingsT", bound=BaseSettings)
CONFIG_ERROR_EXIT = 2


def _fail(service: str, problem: str) -> NoReturn:
    print(f"concierge-{service}: {problem}", file=sys.stderr)
    sys.exit(CONFIG_ERROR_EXIT)


def load_or_exit(service: str, settings_type: type[SettingsT]) -> SettingsT:
    try:
        return load_settings(settings_type)
    except UnknownSettingError as error:
        _fail(service, str(error))
    except ValidationError as error:
        prefix = str(settings_type.model_config.get("env_prefix", ""))
        problems = "; ".join(
            f"{prefix}{'_'.join(map(str, e['loc']))}".upper() + f": {e['msg']}"
            for e in error.errors()
        )
        _fail(service, f"invalid settings: {problems}")


def prepare(service: str, common: CommonSettings, http_port: int) -> asyncio.AbstractEventLoop:
    """Logging, the port and the broker, checked before anything starts."""
    configure_logging(common.log_level, common.log_format)
    try:
        ensure_port_free(common.http_host, http_port)
    except PortInUseError as error:
        _fail(service, str(error))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    log = get_logger(f"concierge.{service}")
    try:
        loop.run_until_complete(wait_for_broker(common, common.broker_wait_seconds))
    except BrokerUnreachableError as error:
        _fail(service, str(error))
    except KafkaAccessDenied as error:
        exit_for_denial(log, error.denial)
    # A worker on an unprovisioned cluster would sit idle (or the broker would
    # auto-create topics with the wrong partitions): name what is missing. Only
    # the topics it uses: its principal may see no others.
    uses = service_uses(TopicNames(common.topic_prefix), service)
    report = loop.run_until_complete(provision(common, create=False, only=uses.covers))
    if report.denied:
        denial = Denial(principal(common), "DESCRIBE", "topic " + ", ".join(report.denied))
        exit_for_denial(log, denial)
    if report.missing:
        _fail(service, "topics missing (run `concierge provision`): " + ", ".join(report.missing))
    for drift in report.drift:
        log.warning("topic_drift", detail=str(drift))
    log.info("starting", http_port=http_port)
    return loop


def run_faust_service(
    service: str,
    settings_type: type[SettingsT],
    create_app: Callable[[SettingsT], faust.App],
    common_of: Callable[[SettingsT], CommonSettings],
    port_of: Callable[[SettingsT], int],
    *,
    serves_queries: bool = False,
) -> None:
    """``serves_queries``: the worker answers customer queries, which an open port
    must not hand to anyone (``unguarded_queries``)."""
    settings = load_or_exit(service, settings_type)
    common = common_of(settings)
    if serves_queries and (problem := unguarded_queries(common)):
        _fail(service, problem)
    loop = prepare(service, common, port_of(settings))
    app = create_app(settings)
    level = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error"}[
        common.log_level
    ]
    # Faust keeps the logging set up by configure_logging (JSON lines).
    worker = Worker(
        app, loop=loop, loglevel=level, quiet=True, redirect_stdouts=False, override_logging=False
    )
    # Its terminal spinner writes cursor escapes into the JSON log lines on stdout.
    worker.spinner = None
    worker.execute_from_commandline()
