"""A gateway per test, over real HTTP, against the real broker with this test's topics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from libs.common.settings import CommonSettings
from services.gateway.settings import GatewaySettings
from tests.integration.gateway.support import API_KEYS, RunningGateway, closed_port, running_gateway

SettingsFactory = Callable[..., GatewaySettings]


@pytest.fixture
def gateway_settings(provisioned: CommonSettings) -> SettingsFactory:
    """Settings for this test's topics; upstreams point at closed ports unless overridden."""

    def build(**overrides: Any) -> GatewaySettings:
        values: dict[str, Any] = {
            "common": provisioned,
            "http_port": 0,
            "api_keys": API_KEYS,
            "context_url": f"http://127.0.0.1:{closed_port()}",
            "decision_url": f"http://127.0.0.1:{closed_port()}",
            "max_batch": 10,
            "max_body_bytes": 128 * 1024,
            "ready_cache_seconds": 0,
        }
        values.update(overrides)
        return GatewaySettings(**values)

    return build


@pytest.fixture
async def gateway(gateway_settings: SettingsFactory) -> AsyncIterator[RunningGateway]:
    async with running_gateway(gateway_settings()) as running:
        yield running
