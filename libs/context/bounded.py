"""Bounded, time-ordered updates of the context's collections, shared by reducers and merges.

Each function takes a part of the context and returns a new part: sorted by
time, de-duplicated, cut to its bound. Keeping these in one place is what lets
``merge_contexts`` promise the same bounds and orderings as ``apply_event``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TypeVar

from libs.context.model import (
    MAX_CART_ITEMS,
    MAX_OPEN_COMPLAINTS,
    MAX_RECENT_DISMISSALS,
    MAX_RESOLVED_COMPLAINTS,
    MAX_SIGNAL_TIMESTAMPS,
    MAX_TRACKED_ACTIONS,
    SIGNAL_WINDOWS,
    ActionOutcome,
    Complaint,
    ConsentState,
    Interaction,
    Purchase,
    PurposeConsent,
)

ValueT = TypeVar("ValueT")


def merged_by_key(
    first: Mapping[str, ValueT],
    second: Mapping[str, ValueT],
    combine: Callable[[ValueT, ValueT], ValueT],
) -> dict[str, ValueT]:
    """Both mappings in one: a key in both gets ``combine(first's, second's)``.
    Keys keep their order: ``first``'s, then those only ``second`` has."""
    merged = dict(first)
    for key, theirs in second.items():
        ours = merged.get(key)
        merged[key] = theirs if ours is None else combine(ours, theirs)
    return merged


def insert_interaction(
    ring: tuple[Interaction, ...], item: Interaction, bound: int
) -> tuple[Interaction, ...]:
    """``ring`` with ``item`` in time order (after equal times), keeping the newest ``bound``."""
    if not ring or item.at >= ring[-1].at:
        merged = (*ring, item)
    else:
        position = bisect.bisect_right(ring, item.at, key=lambda each: each.at)
        merged = (*ring[:position], item, *ring[position:])
    return merged[-bound:]


def merge_interactions(
    first: tuple[Interaction, ...], second: tuple[Interaction, ...], bound: int
) -> tuple[Interaction, ...]:
    """Union by event id, in time order, newest ``bound`` kept."""
    seen: set[str] = set()
    union: list[Interaction] = []
    for item in (*first, *second):
        if item.event_id not in seen:
            seen.add(item.event_id)
            union.append(item)
    union.sort(key=lambda each: each.at)  # stable: ties keep first-then-second order
    return tuple(union[-bound:])


def insert_time(times: tuple[datetime, ...], at: datetime, bound: int) -> tuple[datetime, ...]:
    """``times`` with ``at`` in order, keeping the newest ``bound``."""
    if not times or at >= times[-1]:
        merged = (*times, at)
    else:
        position = bisect.bisect_right(times, at)
        merged = (*times[:position], at, *times[position:])
    return merged[-bound:]


def add_signal(
    signals: Mapping[str, tuple[datetime, ...]], signal: str, at: datetime
) -> dict[str, tuple[datetime, ...]]:
    return {**signals, signal: insert_time(signals.get(signal, ()), at, MAX_SIGNAL_TIMESTAMPS)}


def prune_signals(
    signals: Mapping[str, tuple[datetime, ...]], now: datetime
) -> Mapping[str, tuple[datetime, ...]]:
    """Drop occurrences older than their signal's window (and signals left empty).

    Returns ``signals`` itself when nothing changes, so the common case copies nothing.
    """
    if not signals:
        return signals
    pruned: dict[str, tuple[datetime, ...]] = {}
    changed = False
    for signal, times in signals.items():
        window = SIGNAL_WINDOWS.get(signal)
        cutoff = now - window if window is not None else None
        kept = (
            times
            if cutoff is None or times[0] >= cutoff
            else tuple(t for t in times if t >= cutoff)
        )
        changed = changed or len(kept) != len(times)
        if kept:
            pruned[signal] = kept
    return pruned if changed else signals


def merge_signals(
    first: Mapping[str, tuple[datetime, ...]], second: Mapping[str, tuple[datetime, ...]]
) -> dict[str, tuple[datetime, ...]]:
    merged: dict[str, tuple[datetime, ...]] = {}
    for signal in {*first, *second}:
        times = sorted((*first.get(signal, ()), *second.get(signal, ())))
        merged[signal] = tuple(times[-MAX_SIGNAL_TIMESTAMPS:])
    return merged


# --- consent ------------------------------------------------------------------------


def later_statement(current: ConsentState | None, new: ConsentState) -> ConsentState:
    """The statement that occurred last; on a tie, withdrawal wins (the safe reading)."""
    if current is None or new.at > current.at:
        return new
    if current.at > new.at:
        return current
    return ConsentState(current.granted and new.granted, current.at)


def apply_consent(
    consent: Mapping[str, PurposeConsent], purpose: str, channel: str | None, new: ConsentState
) -> dict[str, PurposeConsent]:
    """``consent`` after one statement; the outcome does not depend on arrival order.

    A purpose-wide statement replaces per-channel ones older than it (equal
    ones stay and are combined at query time); a per-channel statement older
    than the purpose-wide one is already superseded and ignored.
    """
    current = consent.get(purpose, PurposeConsent())
    if channel is None:
        purpose_wide = later_statement(current.all_channels, new)
        channels = {ch: s for ch, s in current.channels.items() if s.at >= purpose_wide.at}
        updated = PurposeConsent(purpose_wide, channels)
    else:
        if current.all_channels is not None and current.all_channels.at > new.at:
            return dict(consent)
        statement = later_statement(current.channels.get(channel), new)
        updated = PurposeConsent(current.all_channels, {**current.channels, channel: statement})
    return {**consent, purpose: updated}


def merge_consent(
    first: Mapping[str, PurposeConsent], second: Mapping[str, PurposeConsent]
) -> dict[str, PurposeConsent]:
    """Every statement of both, applied as if they had all been received by one context."""
    merged = dict(first)
    for purpose, consent in second.items():
        if consent.all_channels is not None:
            merged = apply_consent(merged, purpose, None, consent.all_channels)
        for channel, statement in consent.channels.items():
            merged = apply_consent(merged, purpose, channel, statement)
    return merged


# --- complaints, purchases, outcomes, cart ---------------------------------------------


def open_complaint(
    complaints: Mapping[str, Complaint], case_id: str, complaint: Complaint
) -> dict[str, Complaint]:
    opened = {**complaints, case_id: complaint}
    return _newest(opened, MAX_OPEN_COMPLAINTS, key=lambda c: c.opened_at)


def remember_resolution(
    resolved: Mapping[str, datetime], case_id: str, at: datetime
) -> dict[str, datetime]:
    latest = max(at, resolved.get(case_id, at))
    return _newest({**resolved, case_id: latest}, MAX_RESOLVED_COMPLAINTS, key=lambda t: t)


def merge_complaints(
    first: Mapping[str, Complaint],
    second: Mapping[str, Complaint],
    resolved: Mapping[str, datetime],
) -> dict[str, Complaint]:
    """Union (the first wins on a shared case), minus cases resolved after they opened."""
    union = {**second, **first}
    still_open = {
        case_id: complaint
        for case_id, complaint in union.items()
        if case_id not in resolved or resolved[case_id] < complaint.opened_at
    }
    return _newest(still_open, MAX_OPEN_COMPLAINTS, key=lambda c: c.opened_at)


def merge_resolutions(
    first: Mapping[str, datetime], second: Mapping[str, datetime]
) -> dict[str, datetime]:
    union = {**second}
    for case_id, at in first.items():
        union[case_id] = max(at, union.get(case_id, at))
    return _newest(union, MAX_RESOLVED_COMPLAINTS, key=lambda t: t)


def add_purchases(
    purchases: tuple[Purchase, ...], new: Iterable[Purchase], bound: int
) -> tuple[Purchase, ...]:
    """Union by (order, product), in time order, newest ``bound`` kept."""
    seen = {(p.order_id, p.product_id) for p in purchases}
    union = list(purchases)
    for purchase in new:
        if (purchase.order_id, purchase.product_id) not in seen:
            seen.add((purchase.order_id, purchase.product_id))
            union.append(purchase)
    union.sort(key=lambda p: p.at)
    return tuple(union[-bound:])


def record_outcome(
    outcomes: Mapping[str, ActionOutcome], action_id: str, kind: str, at: datetime
) -> dict[str, ActionOutcome]:
    """Count one ``shown`` / ``accepted`` / ``dismissed`` outcome of ``action_id``."""
    current = outcomes.get(action_id) or ActionOutcome(last_at=at)
    last_at = max(current.last_at, at)
    if kind == "shown":
        updated = ActionOutcome(
            last_at,
            current.shown + 1,
            current.accepted,
            current.dismissed,
            _latest(current.last_shown_at, at),
            current.last_accepted_at,
            current.recent_dismissals,
        )
    elif kind == "accepted":
        updated = ActionOutcome(
            last_at,
            current.shown,
            current.accepted + 1,
            current.dismissed,
            current.last_shown_at,
            _latest(current.last_accepted_at, at),
            current.recent_dismissals,
        )
    else:
        updated = ActionOutcome(
            last_at,
            current.shown,
            current.accepted,
            current.dismissed + 1,
            current.last_shown_at,
            current.last_accepted_at,
            insert_time(current.recent_dismissals, at, MAX_RECENT_DISMISSALS),
        )
    return _newest({**outcomes, action_id: updated}, MAX_TRACKED_ACTIONS, key=lambda o: o.last_at)


def merge_outcomes(
    first: Mapping[str, ActionOutcome], second: Mapping[str, ActionOutcome]
) -> dict[str, ActionOutcome]:
    merged = merged_by_key(first, second, _combined_outcome)
    return _newest(merged, MAX_TRACKED_ACTIONS, key=lambda o: o.last_at)


def _combined_outcome(ours: ActionOutcome, theirs: ActionOutcome) -> ActionOutcome:
    dismissals = tuple(sorted((*ours.recent_dismissals, *theirs.recent_dismissals)))
    return ActionOutcome(
        max(ours.last_at, theirs.last_at),
        ours.shown + theirs.shown,
        ours.accepted + theirs.accepted,
        ours.dismissed + theirs.dismissed,
        _latest_optional(ours.last_shown_at, theirs.last_shown_at),
        _latest_optional(ours.last_accepted_at, theirs.last_accepted_at),
        dismissals[-MAX_RECENT_DISMISSALS:],
    )


def add_to_cart(cart: tuple[str, ...], product_id: str) -> tuple[str, ...]:
    if product_id in cart:
        return cart
    return (*cart, product_id)[-MAX_CART_ITEMS:]


def remove_from_cart(cart: tuple[str, ...], product_ids: Iterable[str]) -> tuple[str, ...]:
    gone = set(product_ids)
    return tuple(product for product in cart if product not in gone)


def merge_carts(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    """The second cart's products not in the first go before it: the first is the newer."""
    extra = tuple(product for product in second if product not in first)
    return (*extra, *first)[-MAX_CART_ITEMS:]


def merge_recent_ids(older: tuple[str, ...], newer: tuple[str, ...], bound: int) -> tuple[str, ...]:
    """Union keeping order (older first, a repeated id at its newest place), last ``bound`` kept."""
    newer_set = set(newer)
    return (*(item for item in older if item not in newer_set), *newer)[-bound:]


# --- helpers -----------------------------------------------------------------------


def _newest(
    items: dict[str, ValueT], bound: int, *, key: Callable[[ValueT], datetime]
) -> dict[str, ValueT]:
    """``items`` cut to the ``bound`` entries with the largest ``key`` (insertion order kept)."""
    if len(items) <= bound:
        return items
    keep = set(sorted(items, key=lambda name: key(items[name]))[-bound:])
    return {name: value for name, value in items.items() if name in keep}


def _latest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at > current else current


def _latest_optional(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None:
        return second
    return _latest(first, second) if second is not None else first
