"""Erasure: which identity records to tombstone so a customer's identifiers start from nothing.

The customer's ``IdentifierSet`` lists every key ever linked to them (the
update planner keeps it complete, unlinking what it evicts). A listed key is
deleted only if it still points at this customer: a family tablet re-linked to
a sibling since stays the sibling's. After the tombstones, an event carrying
one of the old identifiers finds no link and begins a new provisional history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.intake.identity.identifiers import customer_key
from services.intake.identity.records import IdentifierSet, LinkRecord


@dataclass(frozen=True)
class Erasure:
    """Keys to delete (tombstone) in the link table and in the identifier-set table."""

    link_deletes: list[str] = field(default_factory=list)
    set_deletes: list[str] = field(default_factory=list)


def erase_links(customer_id: str, identifiers: Mapping[str, LinkRecord | None]) -> list[str]:
    """Keys to tombstone: those in ``identifiers`` (key -> current link) linked to the customer."""
    return [
        key
        for key, link in identifiers.items()
        if link is not None and link.customer_id == customer_id
    ]


def plan_erasure(
    customer_id: str,
    links: Mapping[str, LinkRecord | None],
    identifier_sets: Mapping[str, IdentifierSet | None],
) -> Erasure:
    """Everything to tombstone for ``customer_id``; the mappings are only read (``.get``)."""
    identifier_set = identifier_sets.get(customer_id)
    keys = list(identifier_set.keys) if identifier_set is not None else []
    own = customer_key(customer_id)
    if own not in keys:
        keys.insert(0, own)
    current = {key: links.get(key) for key in keys}
    set_deletes = [customer_id] if identifier_set is not None else []
    return Erasure(erase_links(customer_id, current), set_deletes)
