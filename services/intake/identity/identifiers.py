"""Identifier keys: every way an event can name a customer, as one string each.

A key is ``<kind>:<value>`` (``cid:42``, ``anon:9f…``, ``dev:…``, ``phone:<hash>``,
``email:<hash>``, ``loy:…``) so all kinds share one table without colliding and a
key read back from storage says what it is.

Kinds are ranked by how firmly they name one person. The rank decides which
identifier anchors a resolution when an event carries several, and which one a
provisional id is derived from:

1. ``cid``   the customer id a channel system authenticated; authoritative.
2. ``email`` personal and usually a login credential.
3. ``phone`` personal, but a landline can be shared by a household.
4. ``loy``   a loyalty card is personal on paper and lent in practice.
5. ``dev``   a mobile device: shared by families, resold.
6. ``anon``  a web cookie: shared computers, cleared at will, the weakest.

The first four are *personal* identifiers; ``dev`` and ``anon`` are *device*
identifiers. The difference matters for linking (see ``resolution``): a wrong
personal link sends one person's calls and mail to another, a wrong device link
only mislabels a browser until the next login re-points it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum

from libs.contract.interaction import Identity
from libs.pipeline.customers import PROVISIONAL_PREFIX as PROVISIONAL_PREFIX

# 96 bits: a collision between two anonymous visitors is never going to happen
# at any plausible traffic, and the id stays short in every record that holds it.
_PROVISIONAL_DIGEST_BYTES = 12


class IdentifierKind(StrEnum):
    """The kinds of identifier, in order of strength (strongest first)."""

    CUSTOMER = "cid"
    EMAIL = "email"
    PHONE = "phone"
    LOYALTY = "loy"
    DEVICE = "dev"
    ANONYMOUS = "anon"

    @property
    def strength(self) -> int:
        """Higher is stronger; used to pick the anchor among several identifiers."""
        return len(_ORDER) - _ORDER.index(self)

    @property
    def is_personal(self) -> bool:
        """Names one person (as opposed to a device or browser people may share)."""
        return self not in (IdentifierKind.DEVICE, IdentifierKind.ANONYMOUS)


_ORDER: tuple[IdentifierKind, ...] = tuple(IdentifierKind)
_BY_PREFIX = {kind.value: kind for kind in IdentifierKind}


def identifier_key(kind: IdentifierKind, value: str) -> str:
    """``identifier_key(IdentifierKind.DEVICE, "d1")`` -> ``"dev:d1"``."""
    return f"{kind.value}:{value}"


def customer_key(customer_id: str) -> str:
    """The key under which a customer id links to itself."""
    return identifier_key(IdentifierKind.CUSTOMER, customer_id)


def kind_of(key: str) -> IdentifierKind:
    """The kind of a key; raises ``ValueError`` for a string that is not one."""
    prefix, separator, _ = key.partition(":")
    kind = _BY_PREFIX.get(prefix)
    if kind is None or not separator:
        raise ValueError(f"not an identifier key: {key!r}")
    return kind


def identifier_keys(identity: Identity) -> list[str]:
    """Every identifier the event carries as a key, strongest first, without blanks."""
    candidates = (
        (IdentifierKind.CUSTOMER, identity.customer_id),
        (IdentifierKind.EMAIL, identity.email_hash),
        (IdentifierKind.PHONE, identity.phone_hash),
        (IdentifierKind.LOYALTY, identity.loyalty_id),
        (IdentifierKind.DEVICE, identity.device_id),
        (IdentifierKind.ANONYMOUS, identity.anonymous_id),
    )
    return [identifier_key(kind, value) for kind, value in candidates if value]


def rotated_keys(identity: Identity, previous_hashes: Mapping[str, str]) -> dict[str, str]:
    """During a PII key rotation: each hashed identifier's key under the current
    key -> its key under the previous one (``previous_hashes`` by field name, as
    intake's validation gives them)."""
    pairs = (
        (IdentifierKind.EMAIL, identity.email_hash, previous_hashes.get("email_hash")),
        (IdentifierKind.PHONE, identity.phone_hash, previous_hashes.get("phone_hash")),
    )
    return {
        identifier_key(kind, current): identifier_key(kind, previous)
        for kind, current, previous in pairs
        if current and previous and current != previous
    }


def strongest(keys: list[str]) -> str:
    """The strongest key of a non-empty list (the first on a tie, i.e. input order)."""
    return max(keys, key=lambda key: kind_of(key).strength)


def provisional_customer_id(key: str) -> str:
    """A stable id for a visitor known only by ``key``: ``prov:`` + a hash of the key.

    Deterministic, so every stage, replay and restart derives the same id from
    the same identifier without coordination, and the history gathered under it
    can be found again and merged when the visitor identifies.
    """
    digest = hashlib.blake2b(key.encode(), digest_size=_PROVISIONAL_DIGEST_BYTES)
    return PROVISIONAL_PREFIX + digest.hexdigest()
