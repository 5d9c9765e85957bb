"""What a customer is interested in: decaying category affinity, recent products, the cart.

Pure and bounded like the rest of the context. An affinity is a sum of signal
weights, each halving every ``INTEREST_HALF_LIFE``; it is stored as its value
at the latest signal, so applying a signal needs no clock, and a late signal
is decayed to the stored instant before it is added: the result does not
depend on the order signals arrive in (up to the rounding of the stored score).

Weights (``SIGNAL_WEIGHTS``) say how much a behaviour tells about interest: a
look at a product page a little, putting it in the cart a lot, taking it out
or returning a product counts against the category.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final, NamedTuple

from libs.context.bounded import merged_by_key
from libs.context.model import (
    INTEREST_FLOOR,
    INTEREST_HALF_LIFE,
    MAX_INTEREST_CATEGORIES,
    MAX_INTEREST_PRODUCTS,
    CartLine,
    CategoryInterest,
    CustomerContext,
    ProductInterest,
)

SIGNAL_WEIGHTS: Final[Mapping[str, float]] = {
    "page_view": 1.0,
    "screen_view": 1.0,
    "search": 0.5,  # only when the channel names the category searched
    "associate_assist": 2.0,  # an associate helped with it in store
    "cart_add": 3.0,
    "cart_remove": -1.0,
    "return": -2.0,
}
_HALF_LIFE_SECONDS: Final = INTEREST_HALF_LIFE.total_seconds()
_SCORE_DIGITS: Final = 3  # stored precision: ample for ranking, short on disk


class Interest(NamedTuple):
    """One category's affinity as of some instant (``top_interests``)."""

    category: str
    score: float
    views: int
    last_at: datetime


def decay(score: float, since: datetime, until: datetime) -> float:
    """``score`` at ``since`` as it stands at ``until`` (never grows; earlier = unchanged)."""
    elapsed = (until - since).total_seconds()
    if elapsed <= 0:
        return score
    return float(score * 0.5 ** (elapsed / _HALF_LIFE_SECONDS))


def affinity_at(interest: CategoryInterest, now: datetime) -> float:
    return decay(interest.score, interest.at, now)


def note_category(
    interests: Mapping[str, CategoryInterest], category: str, weight: float, at: datetime
) -> Mapping[str, CategoryInterest]:
    """``interests`` after one signal of ``weight`` for ``category`` at ``at``.

    A category that falls below ``INTEREST_FLOOR`` is forgotten; beyond
    ``MAX_INTEREST_CATEGORIES`` the weakest (compared at the newest signal) goes.
    """
    current = interests.get(category)
    counted = 1 if weight > 0 else 0
    if current is None:
        if weight <= 0:
            return interests  # no affinity to lower
        updated = CategoryInterest(round(weight, _SCORE_DIGITS), at, counted)
    elif at >= current.at:
        score = decay(current.score, current.at, at) + weight
        updated = CategoryInterest(round(score, _SCORE_DIGITS), at, current.views + counted)
    else:  # a late signal: decayed to the stored instant, which stays
        score = current.score + weight * 0.5 ** (
            (current.at - at).total_seconds() / _HALF_LIFE_SECONDS
        )
        updated = CategoryInterest(round(score, _SCORE_DIGITS), current.at, current.views + counted)
    if updated.score < INTEREST_FLOOR:
        return {name: value for name, value in interests.items() if name != category}
    return _strongest({**interests, category: updated})


def merge_category_interests(
    first: Mapping[str, CategoryInterest], second: Mapping[str, CategoryInterest]
) -> Mapping[str, CategoryInterest]:
    """Both histories' affinities, as if one context had seen every signal."""
    return _strongest(merged_by_key(first, second, _combined_interest))


def _combined_interest(ours: CategoryInterest, theirs: CategoryInterest) -> CategoryInterest:
    at = max(ours.at, theirs.at)
    score = decay(ours.score, ours.at, at) + decay(theirs.score, theirs.at, at)
    return CategoryInterest(round(score, _SCORE_DIGITS), at, ours.views + theirs.views)


def _strongest(interests: dict[str, CategoryInterest]) -> dict[str, CategoryInterest]:
    if len(interests) <= MAX_INTEREST_CATEGORIES:
        return interests
    newest = max(item.at for item in interests.values())
    ranked = sorted(
        interests, key=lambda name: (affinity_at(interests[name], newest), name), reverse=True
    )
    keep = set(ranked[:MAX_INTEREST_CATEGORIES])
    return {name: value for name, value in interests.items() if name in keep}


def note_product(
    products: tuple[ProductInterest, ...], product_id: str, category: str | None, at: datetime
) -> tuple[ProductInterest, ...]:
    """The product touched at ``at``: one entry per product, most recent last, bounded."""
    previous = next((item for item in products if item.product_id == product_id), None)
    if previous is not None:
        at = max(at, previous.at)
        category = category or previous.category
    others = [item for item in products if item.product_id != product_id]
    others.append(ProductInterest(product_id, category, at))
    others.sort(key=lambda item: item.at)  # stable: ties keep the order they had
    return tuple(others[-MAX_INTEREST_PRODUCTS:])


def forget_products(
    products: tuple[ProductInterest, ...], product_ids: Iterable[str]
) -> tuple[ProductInterest, ...]:
    gone = set(product_ids)
    kept = tuple(item for item in products if item.product_id not in gone)
    return products if len(kept) == len(products) else kept


def merge_products(
    first: tuple[ProductInterest, ...], second: tuple[ProductInterest, ...]
) -> tuple[ProductInterest, ...]:
    merged = first
    for item in second:
        merged = note_product(merged, item.product_id, item.category, item.at)
    return merged


def cart_lines_for(cart: tuple[str, ...], lines: Mapping[str, CartLine]) -> Mapping[str, CartLine]:
    """``lines`` kept only for products still in ``cart``, so they share its bound."""
    if all(product in cart for product in lines):
        return lines
    return {product: line for product, line in lines.items() if product in cart}


def merge_cart_lines(
    cart: tuple[str, ...], first: Mapping[str, CartLine], second: Mapping[str, CartLine]
) -> Mapping[str, CartLine]:
    """The first's line wins for a product in both (it is the newer context)."""
    return cart_lines_for(cart, {**second, **first})


# --- reading -------------------------------------------------------------------------


def top_interests(ctx: CustomerContext, now: datetime, limit: int = 3) -> tuple[Interest, ...]:
    """The strongest categories as of ``now``, strongest first (ties: by name)."""
    interests = ctx.interests
    if not interests:
        return ()
    # Decayed inline and ranked on plain tuples: asked on most decisions that a
    # template or a briefing takes part in.
    scored = []
    for category, item in interests.items():
        elapsed = (now - item.at).total_seconds()
        score = item.score if elapsed <= 0 else item.score * 0.5 ** (elapsed / _HALF_LIFE_SECONDS)
        if score >= INTEREST_FLOOR:
            scored.append((-score, category, item))
    # Categories are unique, so the tuples never compare further than the name.
    scored.sort()
    make = tuple.__new__  # a named tuple's own ``__new__`` is a Python-level call
    return tuple(
        make(Interest, (category, -negative, item.views, item.at))
        for negative, category, item in scored[:limit]
    )


def products_in(ctx: CustomerContext, category: str) -> tuple[ProductInterest, ...]:
    """Recent products of interest in ``category``, most recent first."""
    return tuple(item for item in reversed(ctx.products_of_interest) if item.category == category)
