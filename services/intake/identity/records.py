"""What the identity stage stores: one link per identifier, one identifier set per customer.

- ``LinkRecord`` (table key: an identifier key such as ``anon:…``) says which
  customer the identifier belongs to, whether that customer is provisional, and
  when the link was made.
- ``IdentifierSet`` (table key: a customer id) lists the identifier keys linked
  to that customer, so an erasure or a merge can find them without scanning
  the link table. It may hold stale keys (an identifier later re-linked to
  someone else); every consumer checks the key's current link before acting,
  so a stale entry costs a few bytes and never a wrong deletion.

Both serialise to compact JSON with ``to_bytes``/``from_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Self

import orjson
from pydantic import TypeAdapter

from services.intake.identity.identifiers import IdentifierKind, customer_key, kind_of

# Bounds and lifetimes (see docs/identity.md).
MAX_IDENTIFIERS_PER_CUSTOMER = 32
"""A person has a handful of personal identifiers and a trail of cookies and
devices; 32 keeps every personal one and the most recent devices. Beyond it the
oldest cookie goes first, then the oldest device, then the oldest other key."""
ANONYMOUS_TTL = timedelta(days=30)
"""A provisional (anonymous) identity unseen this long is forgotten; the same
as the context service's default expiry for provisional contexts."""
PROVISIONAL_REFRESH = timedelta(days=7)
"""How stale a provisional link or set may get before an event re-writes it.
Refreshing at most weekly keeps active visitors alive at one write per week
instead of one per event."""

_JSON_OPTIONS = orjson.OPT_UTC_Z


def utc_seconds(moment: datetime) -> datetime:
    """``moment`` in UTC at whole seconds: the precision every stored timestamp uses."""
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class LinkRecord:
    """An identifier's owner: ``customer_id``, provisional or known, linked at ``linked_at``."""

    customer_id: str
    provisional: bool
    linked_at: datetime

    def to_bytes(self) -> bytes:
        return orjson.dumps(self, option=_JSON_OPTIONS)

    @classmethod
    def from_bytes(cls, data: bytes) -> LinkRecord:
        record: LinkRecord = _adapter(LinkRecord).validate_json(data)
        return record


@dataclass(frozen=True)
class IdentifierSet:
    """The identifier keys linked to one customer, oldest first; bounded."""

    customer_id: str
    provisional: bool
    keys: tuple[str, ...]
    updated_at: datetime

    @classmethod
    def empty(cls, customer_id: str, provisional: bool, now: datetime) -> Self:
        return cls(customer_id, provisional, (), utc_seconds(now))

    def with_keys(
        self, keys: tuple[str, ...] | list[str], provisional: bool, now: datetime
    ) -> tuple[IdentifierSet, list[str]]:
        """This set with ``keys`` added, re-bounded; and the keys evicted to fit.

        A customer that was ever known stays known (``provisional`` can only go
        from True to False). Evicted keys must be unlinked by the caller when
        they still point at this customer, so that an erasure, which finds links
        through this set, never misses one.
        """
        merged = list(self.keys)
        present = set(merged)
        for key in keys:
            if key not in present:
                merged.append(key)
                present.add(key)
        evicted = _over_bound(merged, self.customer_id)
        kept = tuple(key for key in merged if key not in evicted)
        updated = replace(
            self,
            provisional=self.provisional and provisional,
            keys=kept,
            updated_at=utc_seconds(now),
        )
        return updated, [key for key in merged if key in evicted]

    def with_key_renamed(self, old: str, new: str) -> IdentifierSet:
        """``old`` replaced by ``new`` in place (a link moved to a rotated PII key)."""
        keys = [new if key == old else key for key in self.keys]
        if new not in keys:
            keys.append(new)
        return replace(self, keys=tuple(dict.fromkeys(keys)))

    def to_bytes(self) -> bytes:
        return orjson.dumps(self, option=_JSON_OPTIONS)

    @classmethod
    def from_bytes(cls, data: bytes) -> IdentifierSet:
        record: IdentifierSet = _adapter(IdentifierSet).validate_json(data)
        return record


# Cookies churn fastest and matter least; a customer's own id is never evicted.
_EVICTION_ORDER = (IdentifierKind.ANONYMOUS, IdentifierKind.DEVICE)


def _over_bound(keys: list[str], customer_id: str) -> set[str]:
    excess = len(keys) - MAX_IDENTIFIERS_PER_CUSTOMER
    if excess <= 0:
        return set()
    own = customer_key(customer_id)
    ranked = [key for kind in _EVICTION_ORDER for key in keys if kind_of(key) is kind]
    ranked += [key for key in keys if key != own and kind_of(key) not in _EVICTION_ORDER]
    return set(ranked[:excess])


def link_is_expired(
    link: LinkRecord, now: datetime, anonymous_ttl: timedelta = ANONYMOUS_TTL
) -> bool:
    """A provisional link not refreshed for ``anonymous_ttl``; known customers' never expire."""
    return link.provisional and now - link.linked_at > anonymous_ttl


def identifier_set_is_expired(
    identifier_set: IdentifierSet, now: datetime, anonymous_ttl: timedelta = ANONYMOUS_TTL
) -> bool:
    """A provisional customer's set not refreshed for ``anonymous_ttl``."""
    return identifier_set.provisional and now - identifier_set.updated_at > anonymous_ttl


def needs_refresh(updated_at: datetime, now: datetime) -> bool:
    """A provisional record old enough to be re-written (see ``PROVISIONAL_REFRESH``)."""
    return now - updated_at >= PROVISIONAL_REFRESH


@cache
def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    # Built on first use, not at import: nothing happens at import time.
    return TypeAdapter(cls)
