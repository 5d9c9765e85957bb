from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import CommonSettings
from services.gateway.auth import KeyEntry, parse_api_keys

# Digests and grants only: the raw keys are dropped as the settings are built.
ApiKeys = Annotated[tuple[KeyEntry, ...], BeforeValidator(parse_api_keys)]


class GatewaySettings(BaseSettings):
    """CONCIERGE_GATEWAY_*: HTTP ingest, queries and the action stream."""

    model_config = SettingsConfigDict(
        env_prefix="CONCIERGE_GATEWAY_",
        frozen=True,
        extra="ignore",
        # A validation error must never echo the API keys it was given.
        hide_input_in_errors=True,
    )

    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)
    http_port: int = Field(default=8080, ge=0, le=65535)
    # JSON: {"<key>": {"channel": "web"|"phone"|"mobile"|"store"|null, "scopes": [...]}}
    api_keys: ApiKeys = Field(default=(), exclude=True, repr=False)
    context_url: str = "http://127.0.0.1:8094"
    decision_url: str = "http://127.0.0.1:8094"
    upstream_timeout_seconds: float = Field(default=5.0, gt=0)

    max_batch: int = Field(default=500, ge=1, le=10_000)
    # A full batch of typical events (~0.5-2 KiB each) fits with room to spare;
    # one item is still limited to max_event_bytes.
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Should equal intake's limits: the gateway refuses early what intake would
    # dead-letter.
    max_event_bytes: int = Field(default=32 * 1024, ge=1024)
    max_future_seconds: float = Field(default=300.0, ge=0)
    # How long a request waits for Kafka to acknowledge its events before 503.
    produce_timeout_seconds: float = Field(default=10.0, gt=0)
    # Every request waits for its acks, so linger is added to its latency;
    # it buys batching across concurrent requests (bench/gateway_bench.py:
    # 0 ms gave single events -17% latency, batches of 100 -17% throughput).
    producer_linger_ms: int = Field(default=5, ge=0, le=1000)

    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    max_streams: int = Field(default=200, ge=1)
    # /ready asks the broker for metadata at most this often.
    ready_cache_seconds: float = Field(default=2.0, ge=0)
