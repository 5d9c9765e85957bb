"""API keys: who may call the gateway, for which channel, to do what.

Pure. Keys are secrets: the settings keep only their SHA-256 digests, a
presented key is hashed and compared with every stored digest in constant
time, and no message here ever repeats a key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from libs.contract.common import Channel

MIN_KEY_LENGTH: Final = 16
BEARER: Final = "bearer"


class Scope(StrEnum):
    events_write = "events:write"
    context_read = "context:read"
    decision_read = "decision:read"
    actions_read = "actions:read"


class Grant(BaseModel):
    """What one key may do, as written in CONCIERGE_GATEWAY_API_KEYS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel | None = Field(
        description="The one channel the key acts for; null for an all-channel operator key."
    )
    scopes: frozenset[Scope] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """A key as held in memory: its digest, never the key itself."""

    digest: bytes
    grant: Grant

    def __repr__(self) -> str:
        return f"KeyEntry(channel={self.grant.channel}, scopes={sorted(self.grant.scopes)})"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request was authenticated as."""

    number: int  # position in the configured mapping: loggable, unlike the key
    channel: Channel | None
    scopes: frozenset[Scope]

    @property
    def label(self) -> str:
        return f"key#{self.number}:{self.channel or 'all'}"

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    def may_act_for(self, channel: Channel) -> bool:
        return self.channel is None or self.channel == channel


def digest_of(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def parse_api_keys(raw: object) -> tuple[KeyEntry, ...]:
    """{key: {channel, scopes}} -> digests and grants. Errors name keys by position only."""
    if isinstance(raw, tuple) and all(isinstance(entry, KeyEntry) for entry in raw):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueError("must be a JSON object mapping each API key to {channel, scopes}")
    entries: list[KeyEntry] = []
    seen: set[bytes] = set()
    for number, (key, grant) in enumerate(raw.items(), start=1):
        if not isinstance(key, str) or len(key.strip()) < MIN_KEY_LENGTH:
            raise ValueError(f"key #{number} is shorter than {MIN_KEY_LENGTH} characters")
        if key != key.strip() or any(char.isspace() for char in key):
            raise ValueError(f"key #{number} contains whitespace")
        try:
            parsed = Grant.model_validate(grant)
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in first["loc"]) or "(grant)"
            raise ValueError(f"key #{number}: {where}: {first['msg']}") from None
        digest = digest_of(key)
        if digest in seen:  # impossible from JSON (keys unique), possible from code
            raise ValueError(f"key #{number} is listed twice")
        seen.add(digest)
        entries.append(KeyEntry(digest, parsed))
    return tuple(entries)


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a request is not authenticated; `error` is RFC 6750's code, if any."""

    message: str
    error: str | None = None

    def www_authenticate(self) -> str:
        if self.error is None:
            return 'Bearer realm="concierge"'
        return f'Bearer realm="concierge", error="{self.error}"'


def bearer_token(authorization: str | None) -> str | AuthFailure:
    if not authorization:
        return AuthFailure("An API key is required: Authorization: Bearer <key>")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != BEARER or not token:
        return AuthFailure("Use the Bearer scheme: Authorization: Bearer <key>", "invalid_request")
    return token


def authenticate(
    entries: tuple[KeyEntry, ...], authorization: str | None
) -> Principal | AuthFailure:
    """The principal for an Authorization header, or why there is none.

    Every stored digest is compared, match or not, so the time taken does not
    depend on which key (if any) matched.
    """
    token = bearer_token(authorization)
    if isinstance(token, AuthFailure):
        return token
    presented = digest_of(token)
    found: Principal | None = None
    for number, entry in enumerate(entries, start=1):
        if hmac.compare_digest(presented, entry.digest) and found is None:
            found = Principal(number, entry.grant.channel, entry.grant.scopes)
    if found is None:
        return AuthFailure("The API key is not known", "invalid_token")
    return found
