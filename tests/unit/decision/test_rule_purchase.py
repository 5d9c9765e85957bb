"""Rule 4c: what was bought is not offered again; its category rests 14 days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from libs.context.model import Purchase
from services.decision.domain.policies import RecentPurchasePolicy
from services.decision.domain.rules.purchase import purchase_exclusion, recent_purchases
from tests.unit.decision.support import T0, action, catalogue_of, consent, context, event, run

BOUGHT = (Purchase("o1", "phone-x1", "phones", T0),)


@pytest.mark.parametrize(
    ("kind", "category", "products", "days_later", "code"),
    [
        ("offer", "phones", (), 1, "recent_purchase"),
        ("offer", "phones", (), 13, "recent_purchase"),
        ("offer", "phones", (), 15, None),
        ("offer", "cases", (), 1, None),
        ("offer", "phones", ("phone-x1",), 400, "purchased_product"),  # never again
        ("offer", "cases", ("phone-x2",), 1, None),
    ],
)
def test_purchase_exclusion(
    kind: str, category: str, products: tuple[str, ...], days_later: int, code: str | None
) -> None:
    now = T0 + timedelta(days=days_later)
    recent = recent_purchases(context(purchases=BOUGHT), RecentPurchasePolicy(), now)
    result = purchase_exclusion(category, products, recent)
    assert (None if result is None else result.code) == code


def test_re_offering_products_can_be_allowed() -> None:
    policy = RecentPurchasePolicy(never_reoffer_product=False)
    recent = recent_purchases(context(purchases=BOUGHT), policy, T0 + timedelta(days=30))
    assert purchase_exclusion("phones", ("phone-x1",), recent) is None


def test_a_purchase_emits_a_category_suppression_until_the_rest_ends() -> None:
    catalogue, policies = catalogue_of(
        action("offer.phone", category="phones", products=["phone-x1"], value=100),
        action("offer.case", category="cases", value=10),
        action("offer.phone2", category="phones", value=50),
        action("service.guide", kind="service", triggers=["purchase"], value=1),
    )
    items = [
        {"product_id": "phone-x1", "category": "phones"},
        {"product_id": "c", "category": "sims"},
    ]
    events = [
        event("purchase", "web", T0, order_id="o1", items=items),
        event("page_view", "web", T0 + timedelta(hours=1)),
        event("page_view", "web", T0 + timedelta(days=15)),
    ]
    results = [r for _, r in run(events, catalogue, policies, ctx=context(consent=consent()))]
    [rest] = results[0].suppressions
    assert rest.reason.value == "recent_purchase"
    assert rest.scope.categories == ("phones", "sims")
    assert [k.value for k in rest.scope.kinds] == ["offer"]
    assert rest.until == T0 + timedelta(days=14)
    assert "phone-x1" in rest.detail
    assert "order o1" in rest.detail
    assert [a.action.id for a in results[0].actions] == ["service.guide"]
    assert [a.action.id for a in results[1].actions] == ["offer.case"]
    assert [a.action.id for a in results[2].actions] == ["offer.phone2"]
