"""Resolve an event to one customer: which id it belongs to, which links to write, what to merge.

``resolve`` is pure: the caller looks up the current link of every identifier
the event carries (``identifier_keys``) and passes them in; it returns the
decision and the writes, and stores nothing itself.

Rules (also in docs/identity.md):

1. **Target.** An explicit ``customer_id`` is authoritative: the event belongs to
   it. Otherwise the event belongs to the known customer of its strongest
   identifier linked to a known customer; failing that, to the provisional
   customer of its strongest identifier linked to a provisional one; failing
   that (every identifier unknown), to a new provisional customer whose id is
   derived from the strongest identifier (``prov:`` + hash), so the same visitor
   gets the same id on every event and replay.
2. **Who may link what.** The event *claims* an identifier when it is the anchor
   (the identifier that decided the target), or the event carries a
   ``customer_id``, or the event is an ``identify``, or the identifier is a
   device identifier (``dev``, ``anon``). So without an assertion a customer
   gains only devices and cookies seen with them; personal identifiers (email,
   phone, loyalty card) are linked only by an ``identify`` or an event carrying
   ``customer_id``, because a wrong personal link would route one person's
   calls and mail to another.
3. **Unlinked** identifiers the event claims are linked to the target.
4. **Provisional** identifiers the event claims are re-linked to a *known*
   target and their provisional customer is listed in ``merges``: its history
   moves into the target (the anonymous visitor who logs in). A provisional
   target never absorbs another provisional customer: merges only ever move
   provisional history into a known customer, so two guesses are never fused
   into a bigger guess.
5. **Known to another customer.** A non-identify event never steals such an
   identifier, even with a ``customer_id``. An ``identify`` carrying a
   ``customer_id`` re-links it to that customer (last login wins: the shared
   family tablet follows whoever signed in last), but the previous owner's
   history stays theirs: two known customers are never merged, and a device
   they share does not make them one. Both outcomes are reported as
   ``conflicts`` for logs and metrics.
6. **Refresh.** Provisional links of the target older than
   ``PROVISIONAL_REFRESH`` are re-written so active anonymous visitors never
   reach ``ANONYMOUS_TTL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from libs.contract.interaction import InteractionEvent
from services.intake.identity.identifiers import (
    customer_key,
    identifier_keys,
    kind_of,
    provisional_customer_id,
)
from services.intake.identity.records import LinkRecord, needs_refresh, utc_seconds

IDENTIFY = "identify"


@dataclass(frozen=True)
class LinkConflict:
    """An identifier in the event already linked to another known customer."""

    key: str
    owner: str
    """The known customer the identifier was linked to."""
    relinked: bool
    """True: an identify with ``customer_id`` moved it (last login wins). False: it stayed."""


@dataclass(frozen=True)
class Resolution:
    """The outcome of ``resolve``; every write in ``links`` points at ``customer_id``."""

    customer_id: str
    provisional: bool
    anchor: str
    """The identifier key that decided the target (for logs)."""
    links: dict[str, LinkRecord] = field(default_factory=dict)
    merges: list[str] = field(default_factory=list)
    """Provisional customer ids whose history moves into ``customer_id``, in event order."""
    conflicts: list[LinkConflict] = field(default_factory=list)


def resolve(
    event: InteractionEvent, links: Mapping[str, LinkRecord | None], now: datetime
) -> Resolution:
    """Resolve ``event`` given the current link of each of its identifiers (missing = unlinked).

    Raises ``ValueError`` for an event without identifiers, which the contract
    forbids and intake rejects.
    """
    keys = identifier_keys(event.identity)
    if not keys:
        raise ValueError(f"event {event.event_id!r} carries no identifier")
    current = {key: links.get(key) for key in keys}
    target, provisional, anchor = _target(event, keys, current)
    asserted = bool(event.identity.customer_id)
    identify = event.type == IDENTIFY
    link = LinkRecord(target, provisional, utc_seconds(now))

    writes: dict[str, LinkRecord] = {}
    merges: list[str] = []
    conflicts: list[LinkConflict] = []
    for key in keys:
        existing = current[key]
        claims = key == anchor or asserted or identify or not kind_of(key).is_personal
        if existing is None:
            if claims:
                writes[key] = link
        elif existing.customer_id == target:
            stale = existing.provisional and needs_refresh(existing.linked_at, now)
            if stale or existing.provisional != provisional:
                writes[key] = link
        elif existing.provisional:
            if claims and not provisional:
                writes[key] = link
                if existing.customer_id not in merges:
                    merges.append(existing.customer_id)
        else:
            relinked = asserted and identify
            conflicts.append(LinkConflict(key, existing.customer_id, relinked))
            if relinked:
                writes[key] = link
    return Resolution(target, provisional, anchor, writes, merges, conflicts)


def _target(
    event: InteractionEvent, keys: list[str], current: Mapping[str, LinkRecord | None]
) -> tuple[str, bool, str]:
    """(customer id, provisional, anchor key); ``keys`` are strongest first."""
    customer_id = event.identity.customer_id
    if customer_id:
        return customer_id, False, customer_key(customer_id)
    linked = [(key, link) for key in keys if (link := current[key]) is not None]
    for key, link in linked:
        if not link.provisional:
            return link.customer_id, False, key
    if linked:
        key, link = linked[0]
        return link.customer_id, True, key
    return provisional_customer_id(keys[0]), True, keys[0]
