"""Rule 4c, recent purchase: what was just bought is not sold again.

An offer naming a product the customer bought is never made (as long as the
context remembers the purchase); an offer in a category bought from rests for
``category_rest`` (14 days). A purchase emits a ``recent_purchase``
suppression scoped to its categories, until the rest ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from libs.context.model import CustomerContext
from libs.contract.common import ActionKind, Trigger
from libs.contract.interaction import InteractionEvent
from libs.contract.suppression import SuppressionReason
from services.decision.domain.clock import format_day
from services.decision.domain.explain import PURCHASED_PRODUCT, RECENT_PURCHASE, Exclusion
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import RecentPurchasePolicy
from services.decision.domain.suppressions import Changes, activate


@dataclass(frozen=True, slots=True)
class RecentPurchases:
    """What a decision needs to know about purchases, indexed once per decision."""

    products: frozenset[str] = frozenset()
    """Products never to offer again (empty when the policy allows re-offering)."""
    rested: Mapping[str, tuple[datetime, datetime]] = field(default_factory=dict)
    """Category -> (latest purchase, end of its rest), for categories still resting."""


def recent_purchases(
    context: CustomerContext, policy: RecentPurchasePolicy, now: datetime
) -> RecentPurchases:
    rest = policy.category_rest  # model fields: each read once, not per purchase
    purchases = context.purchases
    since = now - rest
    rested: dict[str, tuple[datetime, datetime]] = {}
    for bought in reversed(purchases):  # newest first
        at = bought.at
        if at < since:
            break
        category = bought.category
        if category not in rested and at <= now:
            rested[category] = (at, at + rest)
    products = (
        frozenset(bought.product_id for bought in purchases)
        if policy.never_reoffer_product
        else frozenset()
    )
    return RecentPurchases(products, rested)


def purchase_exclusion(
    category: str, products: tuple[str, ...], recent: RecentPurchases
) -> Exclusion | None:
    """For offers only: the caller does not ask for other kinds."""
    for product in products:
        if product in recent.products:
            return Exclusion(PURCHASED_PRODUCT, f"already bought {product}")
    resting = recent.rested.get(category)
    if resting is None:
        return None
    bought_at, until = resting
    return Exclusion(
        RECENT_PURCHASE,
        f"bought from {category} on {bought_at.date().isoformat()}:"
        f" resting until {until.date().isoformat()}",
    )


def on_purchase(
    event: InteractionEvent,
    history: ContactHistory,
    policy: RecentPurchasePolicy,
    trigger: Trigger,
    now: datetime,
    zone: tzinfo,
) -> Changes:
    items = event.attributes.get("items")
    order_id = event.attributes.get("order_id")
    if not isinstance(items, list) or not isinstance(order_id, str):
        return history, ()
    categories = _texts(items, "category")
    products = _texts(items, "product_id")
    until = event.occurred_at + policy.category_rest
    if not categories or until <= now or policy.category_rest <= timedelta(0):
        return history, ()
    detail = (
        f"bought {', '.join(products)} ({', '.join(categories)}, order {order_id}):"
        f" no offers in {', '.join(categories)} until {format_day(until, zone)}"
    )
    if policy.never_reoffer_product:
        detail += "; the products themselves are not offered again"
    return activate(
        history,
        key=f"recent_purchase:{order_id}",
        reason=SuppressionReason.recent_purchase,
        detail=detail,
        trigger=trigger,
        now=now,
        until=until,
        kinds=[ActionKind.offer.value],
        categories=categories,
    )


def _texts(items: list[Any], name: str) -> list[str]:
    """The distinct string values of ``name`` across order lines, sorted."""
    return sorted(
        {item[name] for item in items if isinstance(item, dict) and isinstance(item.get(name), str)}
    )
