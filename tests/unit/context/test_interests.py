"""Interest in the context, one row per behaviour: given these events, the context shows this."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from libs.context import CustomerContext, merge_contexts, summarize
from libs.context.interests import affinity_at, decay, note_category, top_interests
from libs.context.model import (
    INTEREST_HALF_LIFE,
    MAX_INTEREST_CATEGORIES,
    MAX_INTEREST_PRODUCTS,
    CategoryInterest,
)
from tests.unit.context.factories import T0, apply_all, event
from tests.unit.context.test_reducers import Case

DAY = timedelta(days=1)


def affinity(category: str, days_after_t0: float = 0) -> Callable[[CustomerContext], float]:
    return lambda c: round(
        affinity_at(c.interests[category], T0 + timedelta(days=days_after_t0)), 3
    )


def products(c: CustomerContext) -> list[tuple[str, str | None]]:
    return [(p.product_id, p.category) for p in c.products_of_interest]


def cart(c: CustomerContext) -> list[tuple[str, str | None]]:
    return [(p, c.cart_lines[p].category if p in c.cart_lines else None) for p in c.cart]


CASES = [
    Case(
        "a product page view adds 1 to its category and records the product",
        [event("page_view", page_type="product", product_id="tv-55", category="tvs")],
        lambda c: (affinity("tvs")(c), products(c)),
        (1.0, [("tv-55", "tvs")]),
    ),
    Case(
        "a view without category or product tells nothing",
        [event("page_view", page_type="home")],
        lambda c: (dict(c.interests), c.products_of_interest),
        ({}, ()),
    ),
    Case(
        "a help page is a frustration signal, not an interest",
        [event("page_view", page_type="help", category="tvs")],
        lambda c: dict(c.interests),
        {},
    ),
    Case(
        "views on web and app add up; the product is kept once",
        [
            event("page_view", product_id="tv-55", category="tvs"),
            event("screen_view", on="mobile", product_id="tv-55", category="tvs"),
            event("screen_view", on="mobile", product_id="tv-65", category="tvs"),
        ],
        lambda c: (affinity("tvs")(c), c.interests["tvs"].views, products(c)),
        (3.0, 3, [("tv-55", "tvs"), ("tv-65", "tvs")]),
    ),
    Case(
        "an affinity halves every week",
        [event("page_view", category="tvs"), event("page_view", category="tvs")],
        lambda c: (affinity("tvs", 7)(c), affinity("tvs", 14)(c)),
        (1.0, 0.5),
    ),
    Case(
        "an older signal arriving late counts decayed, as if it had come in order",
        [event("page_view", category="tvs", at=7 * DAY), event("page_view", category="tvs")],
        lambda c: (affinity("tvs", 7)(c), c.interests["tvs"].at),
        (1.5, T0 + 7 * DAY),
    ),
    Case(
        "a cart add counts three views and puts the line in the cart",
        [event("cart_add", product_id="tv-55", category="tvs", price=499)],
        lambda c: (affinity("tvs")(c), cart(c), c.cart_lines["tv-55"].price),
        (3.0, [("tv-55", "tvs")], 499.0),
    ),
    Case(
        "adding the same product again keeps one line, the first",
        [
            event("cart_add", product_id="tv-55", category="tvs", price=499),
            event("cart_add", product_id="tv-55", category="tvs", price=449, at=DAY),
        ],
        lambda c: (cart(c), c.cart_lines["tv-55"].added_at),
        ([("tv-55", "tvs")], T0),
    ),
    Case(
        "a cart remove drops the line and lowers the category",
        [
            event("cart_add", product_id="tv-55", category="tvs"),
            event("cart_remove", product_id="tv-55"),
        ],
        lambda c: (cart(c), dict(c.cart_lines), affinity("tvs")(c)),
        ([], {}, 2.0),
    ),
    Case(
        "a purchase clears the bought lines from the cart and from products of interest",
        [
            event("cart_add", product_id="tv-55", category="tvs"),
            event("cart_add", product_id="hdmi-2", category="cables"),
            event(
                "purchase",
                order_id="O-1",
                items=[{"product_id": "tv-55", "category": "tvs", "price": 499}],
            ),
        ],
        lambda c: (cart(c), products(c), affinity("tvs")(c)),
        ([("hdmi-2", "cables")], [("hdmi-2", "cables")], 3.0),
    ),
    Case(
        "a return counts against the category it was bought in",
        [
            event("page_view", category="tvs"),
            event("page_view", category="tvs"),
            event("page_view", category="tvs"),
            event("purchase", order_id="O-1", items=[{"product_id": "tv-55", "category": "tvs"}]),
            event("return", on="store", product_id="tv-55", reason="faulty"),
        ],
        affinity("tvs"),
        1.0,
    ),
    Case(
        "a category lowered below the floor is forgotten",
        [
            event("page_view", category="tvs"),
            event("return", on="store", product_id="x"),
            event("purchase", order_id="O-2", items=[{"product_id": "x", "category": "tvs"}]),
            event("return", on="store", product_id="x"),
        ],
        lambda c: "tvs" in c.interests,
        False,
    ),
    Case(
        "a search counts only when the channel names its category; the query is never read",
        [
            event("search", query="tv for my mum", results_count=3),
            event("search", query="tv", results_count=3, category="tvs"),
        ],
        lambda c: dict(c.interests).keys() == {"tvs"} and affinity("tvs")(c) == 0.5,
        True,
    ),
    Case(
        "a store associate's help with a product counts twice a view",
        [
            event(
                "associate_assist", on="store", store_id="s1", product_id="w-1", category="watches"
            )
        ],
        lambda c: (affinity("watches")(c), products(c)),
        (2.0, [("w-1", "watches")]),
    ),
    Case(
        f"at most {MAX_INTEREST_CATEGORIES} categories: the weakest goes",
        [
            event("page_view", category=f"cat-{n}", at=timedelta(minutes=n))
            for n in range(MAX_INTEREST_CATEGORIES)
        ]
        + [event("cart_add", product_id="p", category="new", at=timedelta(hours=1))],
        lambda c: (len(c.interests), "cat-0" in c.interests, "new" in c.interests),
        (MAX_INTEREST_CATEGORIES, False, True),
    ),
    Case(
        f"at most {MAX_INTEREST_PRODUCTS} products, the most recently touched kept",
        [
            event("page_view", product_id=f"p{n}", at=timedelta(minutes=n))
            for n in range(MAX_INTEREST_PRODUCTS + 2)
        ]
        + [event("page_view", product_id="p2", at=timedelta(hours=1))],
        lambda c: [p.product_id for p in c.products_of_interest],
        ["p3", "p4", "p5", "p6", "p2"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_interest_reducers(case: Case) -> None:
    assert case.view(apply_all(case.events)) == case.expected


def test_top_interests_rank_by_affinity_now_and_forget_the_faded() -> None:
    ctx = apply_all(
        [
            event("page_view", category="laptops", at=-30 * DAY),
            event("page_view", category="laptops", at=-30 * DAY),
            event("page_view", category="tvs"),
            event("cart_add", product_id="s-1", category="soundbars"),
        ]
    )
    assert [i.category for i in top_interests(ctx, T0)] == ["soundbars", "tvs", "laptops"]
    assert [i.category for i in top_interests(ctx, T0 + 35 * DAY)] == ["soundbars"]


def test_note_category_does_not_depend_on_arrival_order() -> None:
    signals = [("tvs", 1.0, T0), ("tvs", 3.0, T0 + 2 * DAY), ("tvs", -1.0, T0 + 5 * DAY)]
    forward: dict[str, CategoryInterest] = {}
    backward: dict[str, CategoryInterest] = {}
    for category, weight, at in signals:
        forward = dict(note_category(forward, category, weight, at))
    for category, weight, at in reversed(signals[:2]):
        backward = dict(note_category(backward, category, weight, at))
    backward = dict(note_category(backward, *signals[2]))
    assert forward["tvs"].at == backward["tvs"].at
    assert forward["tvs"].score == pytest.approx(backward["tvs"].score, abs=0.002)
    assert decay(2.0, T0, T0 + INTEREST_HALF_LIFE) == pytest.approx(1.0)


def test_a_merge_adds_both_histories_interests_and_keeps_the_cart_lines() -> None:
    anonymous = apply_all(
        [event("cart_add", product_id="tv-55", category="tvs")], customer_id="anon-1"
    )
    known = apply_all(
        [event("page_view", category="tvs", at=timedelta(minutes=5))], customer_id="C"
    )
    merged = merge_contexts(known, anonymous)
    assert affinity_at(merged.interests["tvs"], T0 + timedelta(minutes=5)) == pytest.approx(
        4.0, abs=0.01
    )
    assert merged.cart == ("tv-55",)
    assert merged.cart_lines["tv-55"].category == "tvs"
    assert [p.product_id for p in merged.products_of_interest] == ["tv-55"]


def test_interests_survive_storage_and_show_in_the_summary() -> None:
    ctx = apply_all(
        [
            event("page_view", product_id="tv-55", category="tvs"),
            event("cart_add", product_id="tv-55", category="tvs", price=499),
        ]
    )
    assert CustomerContext.from_bytes(ctx.to_bytes()) == ctx
    summary = summarize(ctx, T0)
    assert summary["interests"] == [
        {"category": "tvs", "affinity": 4.0, "signals": 2, "last_at": T0}
    ]
    assert summary["cart_items"] == [
        {"product_id": "tv-55", "category": "tvs", "price": 499.0, "added_at": T0}
    ]
    assert summary["products_of_interest"] == [{"product_id": "tv-55", "category": "tvs", "at": T0}]


def test_a_record_stored_before_interests_existed_reads_with_none() -> None:
    ctx = apply_all([event("page_view", category="tvs")])
    old = ctx.to_json_dict()
    for name in ("interests", "products_of_interest", "cart_lines"):
        del old[name]
    restored = CustomerContext.from_json_dict(old)
    assert dict(restored.interests) == {}
    assert restored.products_of_interest == ()
