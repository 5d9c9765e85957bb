from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import CommonSettings


class IntakeSettings(BaseSettings):
    """CONCIERGE_INTAKE_*: the stage that validates, dead-letters and hashes PII."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_INTAKE_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)
    http_port: int = Field(default=8091, ge=0, le=65535)
    data_dir: Path = Path(".run/data/intake")
    # Keyed hash for phone numbers and e-mails. Required: a default key would
    # make every deployment's hashes reversible by anyone with the source.
    pii_key: SecretStr = Field(min_length=16)
    max_event_bytes: int = Field(default=32 * 1024, ge=1024)
    max_future_seconds: float = Field(default=300.0, ge=0)
