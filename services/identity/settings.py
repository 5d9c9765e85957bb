from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import CommonSettings


class IdentitySettings(BaseSettings):
    """CONCIERGE_IDENTITY_*: resolution of identifiers to customers, and dedupe."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_IDENTITY_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)
    http_port: int = Field(default=8092, ge=0, le=65535)
    data_dir: Path = Path(".run/data/identity")
    # A repeated event_id within this horizon is dropped (and counted). It
    # matches the interactions topics' retention: a replay of the topics
    # never re-applies an event.
    dedupe_horizon_hours: int = Field(default=7 * 24, ge=1)
    standby_replicas: int = Field(default=0, ge=0)
    # A provisional (anonymous) customer's links go after this long without an
    # event, like its context (CONCIERGE_CONTEXT_ANONYMOUS_TTL_DAYS).
    anonymous_ttl_days: int = Field(default=30, ge=1)
