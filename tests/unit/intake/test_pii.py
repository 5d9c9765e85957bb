"""Keyed hashes of phone and e-mail; masking of log fields."""

import re

import pytest

from services.intake.domain.pii import (
    REDACTED,
    check_key,
    hash_email,
    hash_normalised,
    hash_phone,
    redact,
)
from tests.unit.intake.support import KEY

HASH_SHAPE = re.compile(r"hmac-sha256:[0-9a-f]{64}")


def test_hash_shape_matches_the_contract() -> None:
    assert HASH_SHAPE.fullmatch(hash_phone(KEY, "+442079460958"))


def test_spellings_of_one_identifier_hash_alike() -> None:
    assert hash_phone(KEY, "+44 20 7946-0958") == hash_phone(KEY, "+442079460958")
    assert hash_email(KEY, " JANE@example.COM") == hash_email(KEY, "jane@example.com")


def test_the_hash_depends_on_the_key() -> None:
    other = b"another-key-0123456789abcdef"
    assert hash_normalised(KEY, "+442079460958") != hash_normalised(other, "+442079460958")


def test_rfc_4231_vector() -> None:
    # Test case 2 of RFC 4231 pins the construction: HMAC-SHA256, lowercase hex.
    digest = hash_normalised(b"Jefe", "what do ya want for nothing?")
    assert digest == (
        "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_invalid_identifiers_raise_value_error() -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        hash_phone(KEY, "0207 946 0958")
    with pytest.raises(ValueError, match=r"name@example\.com"):
        hash_email(KEY, "jane")


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        check_key(b"short")
    check_key(b"x" * 16)


def test_redact_masks_phone_and_email_at_any_depth() -> None:
    fields = {
        "event_id": "e1",
        "email": "jane@example.com",
        "identity": {"phone": "+442079460958", "customer_id": "c"},
        "batch": [{"email": "a@b.co"}, "text"],
        "phone": None,
    }
    assert redact(fields) == {
        "event_id": "e1",
        "email": REDACTED,
        "identity": {"phone": REDACTED, "customer_id": "c"},
        "batch": [{"email": REDACTED}, "text"],
        "phone": None,
    }
    assert fields["email"] == "jane@example.com"
