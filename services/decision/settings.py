from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import CommonSettings


class DecisionSettings(BaseSettings):
    """CONCIERGE_DECISION_*: stage 2, the customer context, catalogue, policies and
    contact history."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_DECISION_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings, exclude=True)
    http_port: int = Field(default=8094, ge=0, le=65535)
    # The URL other replicas forward a query to (a pod's DNS name); by default
    # http://<CONCIERGE_HTTP_HOST, or this host's name if 0.0.0.0>:<http_port>.
    advertised_url: str | None = None
    data_dir: Path = Path(".run/data/decision")
    catalogue_path: Path = Path("deploy/config/catalogue.yaml")
    policies_path: Path = Path("deploy/config/policies.yaml")
    standby_replicas: int = Field(default=0, ge=0)
    # On taking a partition over, outputs sent from this long before its first
    # unfinished record was written are read back, so that a record handled
    # before a crash but not committed does not send them again. It only has
    # to cover clock skew between the stage 1 and stage 2 hosts.
    read_back_seconds: float = Field(default=60.0, ge=0)
    # A provisional (anonymous) customer's context is dropped after this long
    # without an event.
    anonymous_ttl_days: int = Field(default=30, ge=1)
    # Decisions kept per customer for the timeline, explanations included (the
    # decision log topic keeps every one for its retention).
    timeline_decisions: int = Field(default=20, ge=1, le=500)
