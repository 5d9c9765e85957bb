"""The series names each service's /metrics can expose, from the registries the
services' own create_app builds (no broker needed), and the names a PromQL
expression reads."""

from __future__ import annotations

import itertools
import re
from functools import cache
from pathlib import Path
from tempfile import TemporaryDirectory

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from libs.common.faust_app import telemetry_of
from libs.common.settings import CommonSettings
from services.decision.app import create_app as decision_app
from services.decision.settings import DecisionSettings
from services.gateway.app import create_app as gateway_app
from services.gateway.settings import GatewaySettings
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings

# Series Prometheus itself adds to every scrape.
SCRAPE_SERIES = frozenset({"up"})
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "unknown": ("",),
}
_METRIC = re.compile(r"\b((?:concierge|process|python)_[a-z0-9_]+)\b")
_NAME_MATCHER = re.compile(r'__name__=~"([^"]+)"')
_ALTERNATION = re.compile(r"\(([a-z0-9_|]+)\)")


def _names(registry: CollectorRegistry) -> set[str]:
    return {
        family.name + suffix for family in registry.collect() for suffix in _SUFFIXES[family.type]
    }


@cache
def exposed_by_service() -> dict[str, frozenset[str]]:
    common = CommonSettings(topic_prefix="t.")
    with TemporaryDirectory() as data:
        intake = intake_app(
            IntakeSettings(
                common=common,
                data_dir=Path(data) / "intake",
                pii_key=SecretStr("a-test-key-0123456789"),
            )
        )
        decision = decision_app(DecisionSettings(common=common, data_dir=Path(data) / "decision"))
    gateway = gateway_app(GatewaySettings(common=common))
    return {
        "intake": frozenset(_names(telemetry_of(intake).registry)),
        "decision": frozenset(_names(telemetry_of(decision).registry)),
        "gateway": frozenset(_names(gateway.state.runtime.metrics.registry)),
    }


def every_exposed_name() -> frozenset[str]:
    return frozenset().union(*exposed_by_service().values(), SCRAPE_SERIES)


def names_read_by(expr: str) -> set[str]:
    """Metric names in a PromQL expression; a ``__name__=~"a_(x|y)_b"`` matcher
    names every alternative."""
    names = set(_METRIC.findall(_NAME_MATCHER.sub("", expr)))
    for pattern in _NAME_MATCHER.findall(expr):
        groups = _ALTERNATION.findall(pattern)
        template = _ALTERNATION.sub("{}", pattern)
        names.update(
            template.format(*choice)
            for choice in itertools.product(*(group.split("|") for group in groups))
        )
    if re.search(r"\bup\{", expr):
        names.add("up")
    return names
