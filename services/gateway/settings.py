from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator
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

    # A public endpoint's defences against slow and hoarding clients.
    # Request line and headers must arrive within this; else the connection is closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    # The whole body of POST /v1/events must arrive within this (408 otherwise):
    # 4 MiB in 30 s needs about 1.1 Mbit/s.
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    # An idle kept-alive connection is closed after this.
    keep_alive_seconds: int = Field(default=5, ge=1)
    # Open connections (streams and idle keep-alives included); beyond it uvicorn answers 503.
    max_connections: int = Field(default=1000, ge=1)

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
    # One key's share of max_streams, so a single client (or a leaked key)
    # cannot take every slot; beyond it: 429 with Retry-After.
    max_streams_per_key: int = Field(default=50, ge=1)
    # /ready asks the broker for metadata at most this often.
    ready_cache_seconds: float = Field(default=2.0, ge=0)

    @model_validator(mode="after")
    def _connections_hold_the_streams(self) -> GatewaySettings:
        # Every stream is a connection: with fewer connections than streams,
        # uvicorn would refuse streams the gateway means to serve.
        if self.max_connections <= self.max_streams:
            raise ValueError(
                f"max_connections ({self.max_connections}) must exceed max_streams "
                f"({self.max_streams}): every stream holds a connection"
            )
        return self
