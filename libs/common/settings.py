"""Typed settings read from the environment, with loopback defaults.

Every service builds one settings object at its entrypoint and passes it in;
tests build them with overrides. Unknown ``CONCIERGE_*`` variables fail fast,
because a typo in a deployment (``CONCIERGE_KAFKA_BOOTSTRAP_SERVER``) would
otherwise silently fall back to a default.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CONCIERGE_"
# Service-specific settings live under CONCIERGE_<SERVICE>_*; a process checks
# its own service's names strictly and leaves other services' names alone, so
# one environment file can serve the whole stack.
SERVICE_SCOPES = (
    "intake",
    "decision",
    "gateway",
    "demo",
    "sim",
    "bench",
    "test",
)


SettingsT = TypeVar("SettingsT", bound=BaseSettings)

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


class UnknownSettingError(ValueError):
    """Raised when the environment names a setting no service knows."""


class CommonSettings(BaseSettings):
    """What every Concierge process needs: the broker, topic names, logging."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="ignore",
        populate_by_name=True,
        # A validation error must never echo a password it was given.
        hide_input_in_errors=True,
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "CONCIERGE_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    # A common prefix lets several environments share one cluster.
    topic_prefix: str = ""
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    # Address every HTTP endpoint (health, metrics, APIs) binds to; each
    # service has its own port setting.
    http_host: str = "127.0.0.1"
    # Where a local stack keeps pids, logs, data and generated secrets.
    stack_dir: Path = Path(".run")
    # How long start-up waits for the broker before failing loudly.
    broker_wait_seconds: float = Field(default=30.0, gt=0)
    # A worker owning a partition with records waiting that it has not
    # consumed for this long exits for a restart (libs/common/stall.py); 0: never.
    partition_stall_seconds: float = Field(default=60.0, ge=0)
    # How often a stage moves what survived garbage collection to the permanent
    # generation, which no collection scans (libs/common/gc_pauses.py); 0: never.
    gc_freeze_seconds: float = Field(default=5.0, ge=0)
    # How often it collects the permanent generation once, for reference cycles
    # dropped after they were frozen (one full pause each); 0: never.
    gc_reclaim_seconds: float = Field(default=3600.0, ge=0)
    # How often a stage reads its consumer group's lag from the broker for
    # /metrics (concierge_consumer_lag, libs/common/lag_metrics.py); 0: never.
    lag_export_seconds: float = Field(default=15.0, ge=0)
    # How long a stage's producer holds a batch open for more records while its
    # fetches gather (under 50 records/s it lingers not at all: fetch_pace.py).
    # A round's outputs are appended together anyway, so this buys batching
    # across rounds (fewer produce requests) at up to its own length on every
    # event -> action: 0 took ~10 ms off p50 at 250 events/s here and fell behind
    # at 1,000; 2 and 5 measured alike (docs/benchmarks.md, "Linger"). The
    # gateway has its own (CONCIERGE_GATEWAY_PRODUCER_LINGER_MS).
    producer_linger_ms: int = Field(default=5, ge=0, le=1000)
    # How long the decision log keeps a decision (its topic's retention.ms);
    # common because provisioning creates the topic.
    decision_log_retention_days: float = Field(default=30.0, gt=0)

    @property
    def decision_log_retention_ms(self) -> int:
        return int(self.decision_log_retention_days * 24 * 60 * 60 * 1000)

    # How every Kafka client authenticates (docs/operations.md, "Securing
    # Kafka"); libs/common/kafka_security.py turns these into client options.
    # Secrets are SecretStr: never in a repr, a log line or an error.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    # A file holding the password instead (a mounted Kubernetes Secret); it wins.
    kafka_sasl_password_file: Path | None = None
    # PEM files; without a CA file the system's trust store verifies the broker.
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr = SecretStr("")
    # Required on the workers' query endpoints when set; the gateway and the
    # CLI send it (docs/operations.md, "The worker surface").
    query_token: SecretStr = SecretStr("")
    # The decision worker refuses to serve its queries (customers' contexts) without
    # the token on an address beyond loopback, unless this says the network is trusted.
    query_open: bool = False

    @field_validator("query_token")
    @classmethod
    def _query_token_is_not_blank(cls, value: SecretStr) -> SecretStr:
        """Blank would install the guard and accept ``Bearer`` plus spaces."""
        token = value.get_secret_value()
        if token and not token.strip():
            raise ValueError("is blank: leave it empty or set a real token")
        return value

    @model_validator(mode="after")
    def _security_is_complete(self) -> CommonSettings:
        """A half-configured security setting fails at start-up, not at the first fetch."""
        if self.kafka_security_protocol in SASL_PROTOCOLS:
            if not self.kafka_sasl_username:
                raise ValueError(
                    f"CONCIERGE_KAFKA_SASL_USERNAME is required with {self.kafka_security_protocol}"
                )
            has_file = self.kafka_sasl_password_file is not None
            if not has_file and not self.kafka_sasl_password.get_secret_value():
                raise ValueError(
                    "CONCIERGE_KAFKA_SASL_PASSWORD or CONCIERGE_KAFKA_SASL_PASSWORD_FILE is "
                    f"required with {self.kafka_security_protocol}"
                )
        for name in (
            "kafka_sasl_password_file",
            "kafka_ssl_cafile",
            "kafka_ssl_certfile",
            "kafka_ssl_keyfile",
        ):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"CONCIERGE_{name.upper()}: no file at {path}")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError(
                "CONCIERGE_KAFKA_SSL_CERTFILE and CONCIERGE_KAFKA_SSL_KEYFILE go together"
            )
        return self

    @property
    def kafka_sasl_secret(self) -> str:
        """The SASL password, read from its file when one is named."""
        if self.kafka_sasl_password_file is not None:
            return self.kafka_sasl_password_file.read_text().strip()
        return self.kafka_sasl_password.get_secret_value()


def known_setting_names(*settings_types: type[BaseSettings]) -> set[str]:
    names: set[str] = set()
    for settings_type in settings_types:
        prefix = str(settings_type.model_config.get("env_prefix", ""))
        for field_name, field in settings_type.model_fields.items():
            names.add(f"{prefix}{field_name}".upper())
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(str(choice).upper() for choice in alias.choices)
    return names


def check_environment(
    *service_settings: type[BaseSettings],
    environ: Mapping[str, str] | None = None,
) -> None:
    """Fail on any ``CONCIERGE_*`` variable this process should know but doesn't.

    Common names are always checked; ``CONCIERGE_<SERVICE>_*`` names only by
    that service.
    """
    environ = os.environ if environ is None else environ
    known = known_setting_names(CommonSettings, *service_settings)
    own_scopes = {
        str(settings_type.model_config.get("env_prefix", "")).upper()
        for settings_type in service_settings
    }
    foreign_scopes = [
        f"{ENV_PREFIX}{scope.upper()}_"
        for scope in SERVICE_SCOPES
        if f"{ENV_PREFIX}{scope.upper()}_" not in own_scopes
    ]
    unknown = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        if any(upper.startswith(scope) for scope in foreign_scopes):
            continue
        unknown.append(name)
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise UnknownSettingError("unknown setting(s) in the environment: " + ", ".join(hints))


def load_settings(settings_type: type[SettingsT]) -> SettingsT:
    """Build a service's settings from the environment, failing fast on typos."""
    check_environment(settings_type)
    return settings_type()
