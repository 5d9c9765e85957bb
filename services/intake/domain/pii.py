"""Keyed hashing of personal identifiers, and masking of them in log fields.

A keyed HMAC rather than a plain hash: phone numbers are few enough to be
brute-forced from an unkeyed SHA-256. The key comes from settings, is passed
in by the caller, and is never logged.

A hash names the key that made it: ``hmac-sha256:<key id>:<hex>``, or
``hmac-sha256:<hex>`` for a key without an id (every hash made before key ids
existed). During a rotation intake hashes with the new key and identity looks
an identifier up under the previous key too, so links made before the rotation
still resolve (docs/identity.md, "Rotating the PII key").
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from libs.contract.identifiers import normalise_email, normalise_phone

HASH_PREFIX: Final = "hmac-sha256:"
MIN_KEY_BYTES: Final = 16
REDACTED: Final = "[redacted]"
PII_FIELDS: Final = frozenset({"phone", "email"})


# Short, and without ":" so the hash splits unambiguously.
KEY_ID_PATTERN: Final = r"[a-z0-9][a-z0-9-]{0,15}"
_KEY_ID: Final = re.compile(KEY_ID_PATTERN)


def check_key(key: bytes) -> None:
    """Raises ValueError for a key too short to resist guessing; call it at start-up."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the PII hashing key must be at least {MIN_KEY_BYTES} bytes")


def check_key_id(key_id: str) -> None:
    """Raises ValueError unless ``key_id`` is empty (no id) or 1-16 of a-z, 0-9, "-"."""
    if key_id and not _KEY_ID.fullmatch(key_id):
        raise ValueError(
            f"a PII key id is 1-16 characters of a-z, 0-9 and '-', starting with a letter "
            f"or digit (got {key_id!r})"
        )


@dataclass(frozen=True, slots=True)
class PiiKey:
    """A hashing key and the id its hashes carry ("" for none: the format before ids)."""

    secret: bytes = field(repr=False)
    key_id: str = ""

    def __post_init__(self) -> None:
        check_key(self.secret)
        check_key_id(self.key_id)

    def hash(self, normalised: str) -> str:
        return hash_normalised(self.secret, normalised, self.key_id)


def hash_normalised(key: bytes, normalised: str, key_id: str = "") -> str:
    """Hash of a value already in canonical form (as validated models hold it)."""
    digest = hmac.digest(key, normalised.encode("utf-8"), hashlib.sha256)
    return HASH_PREFIX + (f"{key_id}:" if key_id else "") + digest.hex()


def hash_phone(key: bytes, phone: str) -> str:
    """For other services that look a customer up by phone; raises ValueError if not E.164."""
    return hash_normalised(key, normalise_phone(phone))


def hash_email(key: bytes, email: str) -> str:
    """Raises ValueError if the value does not look like an e-mail address."""
    return hash_normalised(key, normalise_email(email))


def redact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of log fields with raw phone numbers and e-mail addresses masked, at any depth."""
    return {
        key: REDACTED if key in PII_FIELDS and value is not None else _redact_value(value)
        for key, value in fields.items()
    }


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value
