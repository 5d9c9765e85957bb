"""Identifier keys: one string per identifier, kind first, strongest first."""

from __future__ import annotations

import pytest

from libs.contract.interaction import Identity
from services.intake.identity import IdentifierKind, identifier_keys, kind_of
from services.intake.identity.identifiers import strongest

EMAIL = "hmac-sha256:" + "e" * 64
PHONE = "hmac-sha256:" + "f" * 64


def test_every_identifier_becomes_a_prefixed_key_strongest_first() -> None:
    identity = Identity(
        customer_id="C",
        anonymous_id="a",
        device_id="d",
        loyalty_id="L",
        phone_hash=PHONE,
        email_hash=EMAIL,
    )
    assert identifier_keys(identity) == [
        "cid:C",
        f"email:{EMAIL}",
        f"phone:{PHONE}",
        "loy:L",
        "dev:d",
        "anon:a",
    ]


def test_raw_phone_and_email_never_become_keys() -> None:
    # Intake replaces them with hashes; if one slipped through it must not be stored.
    identity = Identity(anonymous_id="a", phone="+442079460958", email="x@example.com")
    assert identifier_keys(identity) == ["anon:a"]


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("cid:42", IdentifierKind.CUSTOMER),
        ("anon:x:y", IdentifierKind.ANONYMOUS),
        (f"email:{EMAIL}", IdentifierKind.EMAIL),
        ("loy:L", IdentifierKind.LOYALTY),
    ],
)
def test_kind_of_reads_the_prefix(key: str, kind: IdentifierKind) -> None:
    assert kind_of(key) is kind


@pytest.mark.parametrize("key", ["", "cid", "nope:1", "prov:abc"])
def test_kind_of_rejects_what_is_not_a_key(key: str) -> None:
    with pytest.raises(ValueError, match="not an identifier key"):
        kind_of(key)


def test_personal_and_device_kinds() -> None:
    personal = {kind for kind in IdentifierKind if kind.is_personal}
    assert personal == {
        IdentifierKind.CUSTOMER,
        IdentifierKind.EMAIL,
        IdentifierKind.PHONE,
        IdentifierKind.LOYALTY,
    }


def test_strongest_ignores_input_order() -> None:
    assert strongest(["anon:a", "dev:d", "loy:L"]) == "loy:L"
