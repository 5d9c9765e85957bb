"""Keyed hashing of personal identifiers, and masking of them in log fields.

A keyed HMAC rather than a plain hash: phone numbers are few enough to be
brute-forced from an unkeyed SHA-256. The key comes from settings, is passed
in by the caller, and is never logged. Rotating it breaks identity links made
before the rotation.
"""

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final

from libs.contract.identifiers import normalise_email, normalise_phone

HASH_PREFIX: Final = "hmac-sha256:"
MIN_KEY_BYTES: Final = 16
REDACTED: Final = "[redacted]"
PII_FIELDS: Final = frozenset({"phone", "email"})


def check_key(key: bytes) -> None:
    """Raises ValueError for a key too short to resist guessing; call it at start-up."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the PII hashing key must be at least {MIN_KEY_BYTES} bytes")


def hash_normalised(key: bytes, normalised: str) -> str:
    """Hash of a value already in canonical form (as validated models hold it)."""
    digest = hmac.digest(key, normalised.encode("utf-8"), hashlib.sha256)
    return HASH_PREFIX + digest.hex()


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
