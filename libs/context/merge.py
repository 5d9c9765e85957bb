"""Merging a provisional history into a known customer, and expiring quiet provisional ones.

When the identity stage resolves an anonymous visitor to a known customer it
lists the provisional id in ``merges``; the context stage then folds that
provisional context into the customer's with ``merge_contexts``. The result is
what the customer's context would be had one context received both streams:
unions ordered by time and cut to the same bounds ``apply_event`` keeps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from libs.context.bounded import (
    add_purchases,
    merge_carts,
    merge_complaints,
    merge_consent,
    merge_interactions,
    merge_outcomes,
    merge_recent_ids,
    merge_resolutions,
    merge_signals,
    merged_by_key,
)
from libs.context.interests import (
    merge_cart_lines,
    merge_category_interests,
    merge_products,
)
from libs.context.model import (
    ANONYMOUS_TTL,
    MAX_MERGED_SOURCES,
    MAX_PROCESSED_EVENT_IDS,
    MAX_PURCHASES,
    MAX_RECENT_PER_CHANNEL,
    CustomerContext,
    Profile,
    Session,
    evolve,
)


def merge_contexts(target: CustomerContext, source: CustomerContext) -> CustomerContext:
    """``target`` with ``source``'s history folded in; ``target`` itself if already merged.

    ``target`` keeps its id and, where both hold a value (profile fields, an
    open case), its value wins: it is the identified customer. A redelivered
    merge of the same source is a no-op (``merged_sources``), so counters are
    never doubled.
    """
    mark = merge_mark(source)
    if mark in target.merged_sources or source.customer_id == target.customer_id:
        return target
    newest = target if target.last_seen >= source.last_seen else source
    resolved = merge_resolutions(target.resolved_complaints, source.resolved_complaints)
    cart = merge_carts(target.cart, source.cart)
    return evolve(
        target,
        provisional=target.provisional and source.provisional,
        first_seen=min(target.first_seen, source.first_seen),
        last_seen=newest.last_seen,
        last_channel=newest.last_channel,
        recent={
            channel: merge_interactions(
                target.recent.get(channel, ()),
                source.recent.get(channel, ()),
                MAX_RECENT_PER_CHANNEL,
            )
            for channel in {*target.recent, *source.recent}
        },
        sessions=_latest_sessions(target.sessions, source.sessions),
        open_complaints=merge_complaints(target.open_complaints, source.open_complaints, resolved),
        resolved_complaints=resolved,
        consent=merge_consent(target.consent, source.consent),
        purchases=add_purchases(target.purchases, source.purchases, MAX_PURCHASES),
        signals=merge_signals(target.signals, source.signals),
        outcomes=merge_outcomes(target.outcomes, source.outcomes),
        profile=_fill_profile(target.profile, source.profile),
        cart=cart,
        cart_lines=merge_cart_lines(cart, target.cart_lines, source.cart_lines),
        interests=merge_category_interests(target.interests, source.interests),
        products_of_interest=merge_products(
            source.products_of_interest, target.products_of_interest
        ),
        processed_event_ids=merge_recent_ids(
            source.processed_event_ids, target.processed_event_ids, MAX_PROCESSED_EVENT_IDS
        ),
        merged_sources=merge_recent_ids(
            source.merged_sources, (*target.merged_sources, mark), MAX_MERGED_SOURCES
        ),
    )


def adopt_provisional(source: CustomerContext, customer_id: str) -> CustomerContext:
    """``source`` as the context of known customer ``customer_id``, who has none yet.

    For a merge that reaches the customer's partition before any event of
    theirs: the same result ``merge_contexts`` would give against an empty
    context, and a later redelivery of the merge is still recognised.
    """
    return evolve(
        source,
        customer_id=customer_id,
        provisional=False,
        merged_sources=merge_recent_ids(
            source.merged_sources, (merge_mark(source),), MAX_MERGED_SOURCES
        ),
    )


def merge_mark(source: CustomerContext) -> str:
    """Names one provisional history: its id and when it began.

    The first-seen time tells a redelivered merge (same history, ignored) from
    a later, new history under the same deterministic provisional id (merged).
    """
    text = f"{source.customer_id}|{source.first_seen.isoformat()}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def is_expired(
    ctx: CustomerContext, now: datetime, anonymous_ttl: timedelta = ANONYMOUS_TTL
) -> bool:
    """A provisional context with no event for ``anonymous_ttl`` (default 30 days).

    Known customers' contexts never expire here: their windows prune themselves
    and erasure removes them on request.
    """
    return ctx.provisional and now - ctx.last_seen > anonymous_ttl


def _latest_sessions(
    target: Mapping[str, Session], source: Mapping[str, Session]
) -> dict[str, Session]:
    """Per channel, the session active last (the target's on a tie)."""
    return merged_by_key(source, target, _later_session)


def _later_session(source: Session, target: Session) -> Session:
    return target if target.last_at >= source.last_at else source


def _fill_profile(target: Profile, source: Profile) -> Profile:
    """The target's profile, with gaps filled from the source."""
    return Profile(
        segment=target.segment or source.segment,
        life_stage=target.life_stage or source.life_stage,
        value_tier=target.value_tier or source.value_tier,
        timezone=target.timezone or source.timezone,
        language=target.language or source.language,
    )
