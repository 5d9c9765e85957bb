from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import CommonSettings


class ContextSettings(BaseSettings):
    """CONCIERGE_CONTEXT_*: the live customer context."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_CONTEXT_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)
    http_port: int = Field(default=8093, ge=0, le=65535)
    data_dir: Path = Path(".run/data/context")
    standby_replicas: int = Field(default=0, ge=0)
    anonymous_ttl_days: int = Field(default=30, ge=1)
