"""Everything one event changes in the identity tables, planned in one pure call.

``resolve`` decides the customer and the links the event itself carries. Two
more things keep the tables consistent, and ``plan_identity_update`` does both:

- **Absorbing merged provisional customers.** A provisional customer may own
  identifiers the event does not carry (a cookie and the email typed into a
  newsletter form). When it merges into a known customer, each of its keys
  still linked to it is re-linked to the winner, and its identifier set is
  deleted, so no identifier is left pointing at a history that moved. Keys it
  lists that now belong to someone else are left alone.
- **Keeping the identifier set complete.** Every key linked to a customer is in
  its ``IdentifierSet``, because erasure finds links through it. When the set
  overflows, the evicted keys are unlinked too (a cookie forgotten is safer
  than a link erasure cannot find).

- **Carrying links over a PII key rotation.** An e-mail or phone hashed with
  the new key finds no link; if the same identifier hashed with the previous
  key has one, resolution sees that link, and the link moves to the new key's
  identifier (and in its owner's identifier set), so after the rotation window
  every identifier that was seen has its link under the new key.

The caller applies ``link_writes``/``link_deletes`` to the link table and
``set_writes``/``set_deletes`` to the identifier-set table, then forwards the
event re-keyed by ``resolution.customer_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import NamedTuple, TypeVar

from libs.contract.interaction import InteractionEvent
from services.intake.identity.records import (
    IdentifierSet,
    LinkRecord,
    needs_refresh,
    utc_seconds,
)
from services.intake.identity.resolution import Resolution, resolve
from services.intake.identity.views import KeyedView


@dataclass(frozen=True)
class IdentityUpdate:
    """The resolution and every table write it implies."""

    resolution: Resolution
    link_writes: dict[str, LinkRecord] = field(default_factory=dict)
    link_deletes: list[str] = field(default_factory=list)
    set_writes: dict[str, IdentifierSet] = field(default_factory=dict)
    set_deletes: list[str] = field(default_factory=list)


V = TypeVar("V")
_NOT_ROTATING: Mapping[str, str] = MappingProxyType({})


class CarriedLink(NamedTuple):
    """A link found under the previous PII key, moving to the current key's identifier."""

    previous_key: str
    link: LinkRecord


class _Overlay(KeyedView[V]):
    """``base`` as seen with ``changes`` applied."""

    __slots__ = ("_base", "_changes")

    def __init__(self, base: Mapping[str, V | None], changes: Mapping[str, V]) -> None:
        self._base = base
        self._changes = changes

    def get(self, key: str, default: object = None) -> V | None:
        if key in self._changes:
            return self._changes[key]
        return self._base.get(key)


def carried_links(
    rotated: Mapping[str, str], links: Mapping[str, LinkRecord | None]
) -> dict[str, CarriedLink]:
    """Current-key identifiers without a link whose previous-key identifier has one."""
    carried: dict[str, CarriedLink] = {}
    for current, previous in rotated.items():
        if links.get(current) is None and (link := links.get(previous)) is not None:
            carried[current] = CarriedLink(previous, link)
    return carried


def plan_identity_update(
    event: InteractionEvent,
    links: Mapping[str, LinkRecord | None],
    identifier_sets: Mapping[str, IdentifierSet | None],
    now: datetime,
    rotated: Mapping[str, str] = _NOT_ROTATING,
) -> IdentityUpdate:
    """Resolve ``event`` and plan the writes; ``links``/``identifier_sets`` are only read.

    Both mappings may be the live tables (or read-only views decoding them):
    only ``.get`` is called, for the event's identifiers, the merged provisional
    customers' identifiers, and the sets of the customers involved.
    ``rotated`` (during a PII key rotation, ``identifiers.rotated_keys``) maps
    the event's hashed identifiers to the same identifiers under the previous key.
    """
    carried = carried_links(rotated, links)
    if not carried:
        return _plan(event, links, identifier_sets, now)
    renamed: dict[str, IdentifierSet] = {}
    for current, (previous, link) in carried.items():
        owner_set = renamed.get(link.customer_id) or identifier_sets.get(link.customer_id)
        if owner_set is not None:
            renamed[link.customer_id] = owner_set.with_key_renamed(previous, current)
    update = _plan(
        event,
        _Overlay(links, {current: moved.link for current, moved in carried.items()}),
        _Overlay(identifier_sets, renamed),
        now,
    )
    # Make the move durable even where resolution wrote nothing: the link
    # under the new key, the old one gone, the owner's set renamed.
    link_writes = dict(update.link_writes)
    for current, (_, link) in carried.items():
        if current not in update.link_deletes:
            link_writes.setdefault(current, link)
    link_deletes = [*update.link_deletes, *(moved.previous_key for moved in carried.values())]
    set_writes = dict(update.set_writes)
    for owner, owner_set in renamed.items():
        if owner not in update.set_deletes:
            set_writes.setdefault(owner, owner_set)
    return IdentityUpdate(
        update.resolution, link_writes, link_deletes, set_writes, update.set_deletes
    )


def _plan(
    event: InteractionEvent,
    links: Mapping[str, LinkRecord | None],
    identifier_sets: Mapping[str, IdentifierSet | None],
    now: datetime,
) -> IdentityUpdate:
    resolution = resolve(event, links, now)
    target = resolution.customer_id
    link_writes = dict(resolution.links)
    absorbed = _absorb_provisional(resolution, links, identifier_sets, now)
    for key, link in absorbed.items():
        link_writes.setdefault(key, link)

    existing = identifier_sets.get(target)
    base = existing or IdentifierSet.empty(target, resolution.provisional, now)
    unchanged = (
        existing is not None
        and not link_writes
        and existing.provisional == resolution.provisional
        and not (existing.provisional and needs_refresh(existing.updated_at, now))
    )
    set_writes: dict[str, IdentifierSet] = {}
    link_deletes: list[str] = []
    if not unchanged:
        updated, evicted = base.with_keys(list(link_writes), resolution.provisional, now)
        set_writes[target] = updated
        for key in evicted:
            if key in link_writes:
                del link_writes[key]
            elif (current := links.get(key)) is not None and current.customer_id == target:
                link_deletes.append(key)
    set_deletes = [
        merged for merged in resolution.merges if identifier_sets.get(merged) is not None
    ]
    return IdentityUpdate(resolution, link_writes, link_deletes, set_writes, set_deletes)


def _absorb_provisional(
    resolution: Resolution,
    links: Mapping[str, LinkRecord | None],
    identifier_sets: Mapping[str, IdentifierSet | None],
    now: datetime,
) -> dict[str, LinkRecord]:
    """Links moving every key still owned by a merged provisional customer to the target."""
    moved = LinkRecord(resolution.customer_id, resolution.provisional, utc_seconds(now))
    writes: dict[str, LinkRecord] = {}
    for merged in resolution.merges:
        merged_set = identifier_sets.get(merged)
        if merged_set is None:
            continue
        for key in merged_set.keys:
            link = links.get(key)
            if link is not None and link.customer_id == merged:
                writes[key] = moved
    return writes
