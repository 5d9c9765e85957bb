"""Catalogue templates, one row per behaviour: given this customer, the action names this."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from libs.contract.interaction import InteractionEvent
from services.decision.domain.catalogue import ConfigError, parse_catalogue
from services.decision.domain.policies import Policies
from tests.unit.decision.support import T0, action, event, run

DAY = timedelta(days=1)
MARKETING = event("consent_updated", at=T0 - DAY, purpose="marketing", granted=True)
CATEGORIES = {
    "tvs": {"label": "TVs", "accessories": ["soundbars", "tv_mounts"]},
    "soundbars": {"label": "soundbars"},
}
PROPOSITIONS = {
    "young_adult": {
        "category": "savings",
        "product_id": "first-home-saver",
        "reason": "savings and a starter pension",
        "payload": {"rate": "4.1%"},
    },
    "retired": {
        "category": "wealth_management",
        "product_id": "self-managed-funds",
        "reason": "managing their own funds",
    },
}
TEMPLATES: dict[str, dict[str, Any]] = {
    "cart": {"slot": "cart_product"},
    "interest": {"slot": "interest_category", "min_affinity": 1.5},
    "accessory": {"slot": "purchase_accessory", "within": "30d"},
    "stage": {"slot": "life_stage", "propositions": PROPOSITIONS},
    "savings stage": {
        "slot": "life_stage",
        "propositions": PROPOSITIONS,
        "categories": ["savings"],
    },
}


def view(
    category: str, product: str | None = None, at: timedelta = timedelta(0)
) -> InteractionEvent:
    attributes: dict[str, Any] = {"page_type": "product", "category": category}
    if product is not None:
        attributes["product_id"] = product
    # On the app, which the template does not answer: only the last page view decides.
    return event("screen_view", "mobile", at=T0 + at, **attributes)


def home(at: timedelta = timedelta(hours=1)) -> InteractionEvent:
    return event("page_view", at=T0 + at, page_type="home")


def buy(product: str, category: str, at: timedelta) -> InteractionEvent:
    items = [{"product_id": product, "category": category}]
    return event("purchase", at=T0 + at, order_id=f"O-{product}", items=items)


def stage(life_stage: str) -> InteractionEvent:
    return event("profile_updated", at=T0 - DAY, life_stage=life_stage)


@dataclass(frozen=True)
class Case:
    name: str
    template: str
    events: list[InteractionEvent]
    expected_id: str | None
    category: str | None = None
    product: str | None = None
    reason: str | None = None
    subject: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        "the product left in the cart is named, with how long ago",
        "cart",
        [event("cart_add", at=T0, product_id="tv-55", category="tvs"), home()],
        "offer.t:tv-55",
        "tvs",
        "tv-55",
        "you left tv-55 (TVs) in your cart 1 hour ago",
        {"slot": "cart_product", "product_id": "tv-55"},
    ),
    Case(
        "the last product added wins; a removed one is forgotten",
        "cart",
        [
            event("cart_add", at=T0, product_id="tv-55", category="tvs"),
            event("cart_add", at=T0, product_id="sb-1", category="soundbars"),
            event("cart_remove", at=T0, product_id="sb-1"),
            home(),
        ],
        "offer.t:tv-55",
        "tvs",
        "tv-55",
    ),
    Case(
        "an empty cart binds nothing",
        "cart",
        [home()],
        None,
    ),
    Case(
        "a purchased cart product is never offered: the purchase cleared it",
        "cart",
        [
            event("cart_add", at=T0, product_id="tv-55", category="tvs"),
            buy("tv-55", "tvs", DAY * 0),
            home(),
        ],
        None,
    ),
    Case(
        "three TVs looked at this week: the category is named with the count",
        "interest",
        [view("tvs", "tv-1"), view("tvs", "tv-2"), view("tvs", "tv-3"), home()],
        "offer.t:tvs",
        "tvs",
        None,
        "you looked at 3 TVs this week",
        {"slot": "interest_category", "products": ["tv-3", "tv-2", "tv-1"]},
    ),
    Case(
        "interest without products quotes the visits",
        "interest",
        [view("tvs"), view("tvs"), home()],
        "offer.t:tvs",
        "tvs",
        None,
        "you looked at TVs 2 times lately",
    ),
    Case(
        "one look is below the least affinity worth acting on",
        "interest",
        [view("tvs"), home()],
        None,
    ),
    Case(
        "interest a month old has faded",
        "interest",
        [view("tvs", at=-30 * DAY), view("tvs", at=-30 * DAY), home()],
        None,
    ),
    Case(
        "a category just bought from rests: the next interest is offered instead",
        "interest",
        [
            view("tvs"),
            view("tvs"),
            view("tvs"),
            view("soundbars"),
            view("soundbars"),
            buy("tv-1", "tvs", timedelta(minutes=30)),
            home(),
        ],
        "offer.t:soundbars",
        "soundbars",
    ),
    Case(
        "a TV bought yields the accessory categories of TVs, first listed first",
        "accessory",
        [buy("tv-1", "tvs", timedelta(0)), home()],
        "offer.t:soundbars",
        "soundbars",
        None,
        "you bought tv-1 (TVs) on 1 May 2025: soundbars to go with it",
        {"slot": "purchase_accessory", "for_product": "tv-1", "for_category": "tvs"},
    ),
    Case(
        "a purchase outside the window binds nothing",
        "accessory",
        [buy("tv-1", "tvs", -40 * DAY), home()],
        None,
    ),
    Case(
        "a category without accessories binds nothing",
        "accessory",
        [buy("sb-1", "soundbars", timedelta(0)), home()],
        None,
    ),
    Case(
        "a young adult gets savings and a starter pension",
        "stage",
        [stage("young_adult"), home()],
        "offer.t:young_adult",
        "savings",
        "first-home-saver",
        "for your stage of life (young adult): savings and a starter pension",
        {"slot": "life_stage", "life_stage": "young_adult"},
    ),
    Case(
        "a retiree gets managing their own funds",
        "stage",
        [stage("retired"), home()],
        "offer.t:retired",
        "wealth_management",
        "self-managed-funds",
        "for your stage of life (retired): managing their own funds",
    ),
    Case(
        "a template kept to savings still offers a young adult theirs",
        "savings stage",
        [stage("young_adult"), home()],
        "offer.t:young_adult",
        "savings",
        "first-home-saver",
    ),
    Case(
        "a template kept to savings offers a retiree nothing",
        "savings stage",
        [stage("retired"), home()],
        None,
    ),
    Case(
        "a customer with no known life stage gets no life-stage offer",
        "stage",
        [home()],
        None,
    ),
    Case(
        "a life stage without a proposition binds nothing",
        "stage",
        [stage("student"), home()],
        None,
    ),
    Case(
        "the proposition's product, once bought, is never offered again",
        "stage",
        [stage("young_adult"), buy("first-home-saver", "savings", -20 * DAY), home()],
        None,
    ),
]


def catalogue_with(template: dict[str, Any]) -> tuple[Any, Policies]:
    version = "tpl"
    catalogue = parse_catalogue(
        {
            "categories": CATEGORIES,
            "actions": [
                action("offer.t", category="fallback", triggers=["page_view"], template=template)
            ],
        },
        version,
    )
    return catalogue, Policies().model_copy(update={"policy_version": version})


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_templates_bind_to_the_customers_own_products_and_categories(case: Case) -> None:
    catalogue, policies = catalogue_with(TEMPLATES[case.template])
    _, last = run([MARKETING, *case.events], catalogue, policies)[-1]
    if case.expected_id is None:
        assert last.actions == []
        return
    (decided,) = last.actions
    assert decided.action.id == case.expected_id
    assert decided.action.category == case.category
    payload = decided.action.payload
    assert payload.get("product_id") == case.product
    assert payload["subject"]["template"] == "offer.t"
    assert payload["subject"].items() >= case.subject.items()
    assert last.explanation.chosen == case.expected_id
    assert last.explanation.subject == payload["subject"]
    personal = [r for r in decided.reasons if r.code in {"interest", "profile"}]
    assert len(personal) == 1
    if case.reason is not None:
        assert personal[0].detail == case.reason


def test_the_proposition_payload_is_merged_into_the_action() -> None:
    catalogue, policies = catalogue_with(TEMPLATES["stage"])
    _, last = run([MARKETING, stage("young_adult"), home()], catalogue, policies)[-1]
    assert last.actions[0].action.payload["rate"] == "4.1%"
    assert last.actions[0].reasons[1].code == "profile"


def test_dismissal_fatigue_and_cooldown_apply_per_concrete_binding() -> None:
    """Dismissing the TV reminder twice rests the TV, not the soundbar in the same cart."""
    catalogue, policies = catalogue_with(TEMPLATES["cart"])
    events = [
        MARKETING,
        event("cart_add", at=T0, product_id="sb-1", category="soundbars"),
        event("cart_add", at=T0, product_id="tv-55", category="tvs"),
        event("action_dismissed", at=T0, decision_id="d1", action_id="offer.t:tv-55"),
        event("action_dismissed", at=T0, decision_id="d2", action_id="offer.t:tv-55"),
        home(),
        home(timedelta(hours=2)),
    ]
    results = run(events, catalogue, policies)
    fatigue = results[4][1].suppressions
    assert [s.scope.action_ids for s in fatigue] == [("offer.t:tv-55",)]
    first, second = (result.actions for _, result in results[-2:])
    assert first[0].action.id == "offer.t:sb-1"
    outcomes = {
        o.action_id: o.excluded.code
        for o in results[-1][1].explanation.candidates
        if o.excluded is not None
    }
    assert outcomes == {"offer.t:tv-55": "dismissal_fatigue", "offer.t:sb-1": "cooldown"}
    assert second == []


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({"slot": "life_stage"}, "slot life_stage needs propositions"),
        ({"slot": "cart_product", "min_affinity": 2}, "min_affinity does not apply to slot"),
        ({"slot": "shoe_size"}, "Input should be 'cart_product'"),
        ({"slot": "cart_product", "code": "lambda: 1"}, "Extra inputs are not permitted"),
        ({"slot": "purchase_accessory"}, "purchase_accessory needs categories"),
    ],
)
def test_templates_are_validated_at_start_up(template: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=r"actions\[0\]\.template") as raised:
        parse_catalogue({"actions": [action("offer.t", template=template)]}, "v")
    assert message in str(raised.value)


def test_a_concrete_id_too_long_for_the_contract_is_hashed() -> None:
    from services.decision.domain.templates import concrete_id

    long_id = concrete_id("offer.t", "p" * 200)
    assert len(long_id) <= 128
    assert long_id.startswith("offer.t:")
    assert long_id == concrete_id("offer.t", "p" * 200)
