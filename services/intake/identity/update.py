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

The caller applies ``link_writes``/``link_deletes`` to the link table and
``set_writes``/``set_deletes`` to the identifier-set table, then forwards the
event re-keyed by ``resolution.customer_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from libs.contract.interaction import InteractionEvent
from services.intake.identity.records import (
    IdentifierSet,
    LinkRecord,
    needs_refresh,
    utc_seconds,
)
from services.intake.identity.resolution import Resolution, resolve


@dataclass(frozen=True)
class IdentityUpdate:
    """The resolution and every table write it implies."""

    resolution: Resolution
    link_writes: dict[str, LinkRecord] = field(default_factory=dict)
    link_deletes: list[str] = field(default_factory=list)
    set_writes: dict[str, IdentifierSet] = field(default_factory=dict)
    set_deletes: list[str] = field(default_factory=list)


def plan_identity_update(
    event: InteractionEvent,
    links: Mapping[str, LinkRecord | None],
    identifier_sets: Mapping[str, IdentifierSet | None],
    now: datetime,
) -> IdentityUpdate:
    """Resolve ``event`` and plan the writes; ``links``/``identifier_sets`` are only read.

    Both mappings may be the live tables (or read-only views decoding them):
    only ``.get`` is called, for the event's identifiers, the merged provisional
    customers' identifiers, and the sets of the customers involved.
    """
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
