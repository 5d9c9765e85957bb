from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import CommonSettings
from services.intake.domain.pii import KEY_ID_PATTERN, PiiKey


class IntakeSettings(BaseSettings):
    """CONCIERGE_INTAKE_*: stage 1, which validates, hashes PII, dedupes and resolves identity."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_INTAKE_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)
    http_port: int = Field(default=8091, ge=0, le=65535)
    # The URL this worker advertises to its group (as CONCIERGE_DECISION_ADVERTISED_URL).
    advertised_url: str | None = None
    data_dir: Path = Path(".run/data/intake")
    # Keyed hash for phone numbers and e-mails. Required: a default key would
    # make every deployment's hashes reversible by anyone with the source.
    pii_key: SecretStr = Field(min_length=16)
    # The id the key's hashes carry (hmac-sha256:<id>:<hex>); "" keeps the
    # format of hashes made before key ids existed. Rotation: docs/identity.md.
    pii_key_id: str = Field(default="", pattern=rf"^(?:{KEY_ID_PATTERN})?$")
    # During a rotation window: the key (and its id) hashes were made with
    # before; identity finds links under it and moves them to the current key.
    previous_pii_key: SecretStr | None = Field(default=None, min_length=16)
    previous_pii_key_id: str = Field(default="", pattern=rf"^(?:{KEY_ID_PATTERN})?$")
    max_event_bytes: int = Field(default=32 * 1024, ge=1024)
    max_future_seconds: float = Field(default=300.0, ge=0)
    # A repeated event_id within this horizon is dropped (and counted). It
    # matches the interactions topics' retention: a replay of the topics
    # never re-applies an event.
    dedupe_horizon_hours: int = Field(default=7 * 24, ge=1)
    standby_replicas: int = Field(default=0, ge=0)
    # A provisional (anonymous) customer's links go after this long without an
    # event, like its context (CONCIERGE_DECISION_ANONYMOUS_TTL_DAYS).
    anonymous_ttl_days: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _a_rotation_changes_the_hashes(self) -> IntakeSettings:
        if self.previous_pii_key is None:
            if self.previous_pii_key_id:
                raise ValueError("previous_pii_key_id is set without previous_pii_key")
            return self
        same_secret = self.previous_pii_key.get_secret_value() == self.pii_key.get_secret_value()
        if same_secret and self.previous_pii_key_id == self.pii_key_id:
            raise ValueError(
                "previous_pii_key and previous_pii_key_id are the current key and id: "
                "a rotation needs a new key or a new id"
            )
        return self

    def previous_key(self) -> PiiKey | None:
        if self.previous_pii_key is None:
            return None
        return PiiKey(self.previous_pii_key.get_secret_value().encode(), self.previous_pii_key_id)
