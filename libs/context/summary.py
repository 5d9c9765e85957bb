"""A compact, JSON-ready view of a context for APIs and agent desktops.

It answers what a person helping the customer asks first (who, where now, is
anything wrong, what may we say) and leaves out the machinery (fingerprints,
merge marks, raw counters of every action).
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta
from typing import Any, Final

from libs.context.interests import top_interests
from libs.context.model import (
    CONSENT_PURPOSES,
    CONTACT_CHANNELS,
    SIGNAL_WINDOWS,
    CustomerContext,
)

SUMMARY_INTERACTIONS: Final = 10
SUMMARY_PURCHASES: Final = 5
SUMMARY_INTERESTS: Final = 5
FRUSTRATION_LOOKBACK: Final = timedelta(hours=24)


def summarize(ctx: CustomerContext, now: datetime) -> dict[str, Any]:
    """The summary as plain JSON types (timestamps as datetimes: orjson writes them)."""
    latest = heapq.nlargest(
        SUMMARY_INTERACTIONS,
        ((channel, item) for channel, items in ctx.recent.items() for item in items),
        key=lambda pair: pair[1].at,
    )
    return {
        "customer_id": ctx.customer_id,
        "provisional": ctx.provisional,
        "first_seen": ctx.first_seen,
        "last_seen": ctx.last_seen,
        "last_channel": ctx.last_channel,
        "profile": {
            name: value
            for name, value in (
                ("segment", ctx.profile.segment),
                ("life_stage", ctx.profile.life_stage),
                ("value_tier", ctx.profile.value_tier),
                ("timezone", ctx.profile.timezone),
                ("language", ctx.profile.language),
            )
            if value is not None
        },
        "open_complaints": [
            {"case_id": case_id, **_without_none(vars(complaint))}
            for case_id, complaint in ctx.open_complaints.items()
        ],
        "consent": {
            purpose: sorted(ch for ch in CONTACT_CHANNELS if ctx.has_consent(purpose, ch))
            for purpose in sorted(CONSENT_PURPOSES)
        },
        "frustration_24h": {
            signal: count
            for signal in SIGNAL_WINDOWS
            if (count := ctx.signal_count(signal, FRUSTRATION_LOOKBACK, now))
        },
        "sessions": {
            channel: {"started_at": s.started_at, "last_at": s.last_at, "views": s.views}
            for channel, s in ctx.sessions.items()
        },
        "cart": list(ctx.cart),
        "cart_items": cart_items(ctx),
        "interests": [
            {
                "category": item.category,
                "affinity": round(item.score, 2),
                "signals": item.views,
                "last_at": item.last_at,
            }
            for item in top_interests(ctx, now, SUMMARY_INTERESTS)
        ],
        "products_of_interest": [
            {"product_id": p.product_id, "category": p.category, "at": p.at}
            for p in reversed(ctx.products_of_interest)
        ],
        "recent_purchases": [
            {"order_id": p.order_id, "product_id": p.product_id, "category": p.category, "at": p.at}
            for p in ctx.purchases[-SUMMARY_PURCHASES:][::-1]
        ],
        "recent_interactions": [
            {
                "channel": channel,
                "type": item.type,
                "at": item.at,
                "attributes": dict(item.attributes),
            }
            for channel, item in latest
        ],
    }


def cart_items(ctx: CustomerContext) -> list[dict[str, Any]]:
    """The cart as it stands, in the order added, with what ``cart_add`` said of each line."""
    items = []
    for product_id in ctx.cart:
        line = ctx.cart_lines.get(product_id)
        item: dict[str, Any] = {"product_id": product_id}
        if line is not None:
            item.update(
                _without_none(
                    {"category": line.category, "price": line.price, "added_at": line.added_at}
                )
            )
        items.append(item)
    return items


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
