"""Properties over generated event sequences, through the real context reducers.

Whatever a customer does, in whatever order and with redeliveries: no offer
without consent for its channel, none while a complaint is open, no cap ever
exceeded, no action back within its rest after two dismissals, no offer of a
product bought or in a category bought from within the category rest (templates
included: the concrete product and category count), and no event id ever
decided twice.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.context.model import Profile
from libs.context.reducers import apply_event
from libs.contract.interaction import InteractionEvent
from services.decision.domain.catalogue import Catalogue, parse_catalogue
from services.decision.domain.decide import decide
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import Policies
from tests.unit.decision.support import (
    CUSTOMER,
    T0,
    action,
    catalogue_of,
    consent,
    context,
    event,
    starter,
)

ZONE = ZoneInfo("America/New_York")
OFFER_IDS = ["offer.0", "offer.1", "offer.2", "offer.3"]
CATEGORIES = ["phones", "cases", "plans"]


@cache
def aggressive() -> tuple[Catalogue, Policies]:
    """Offers on every trigger with no cooldown: only the rules stand in their way."""
    everywhere = [
        "page_view",
        "app_open",
        "call_started",
        "store_visit",
        "search",
        "purchase",
        "checkout_failed",
        "consent_updated",
        "complaint_resolved",
        "action_dismissed",
    ]
    return catalogue_of(
        *[
            action(
                offer_id,
                category=CATEGORIES[i % 3],
                products=[f"p{i}"],
                value=10 + i,
                cooldown="1s",
                triggers=everywhere,
            )
            for i, offer_id in enumerate(OFFER_IDS)
        ],
        action("service.help", kind="service", value=1, triggers=everywhere, cooldown="1s"),
    )


TEMPLATE_IDS = ["offer.cart", "offer.interest", "offer.accessory", "offer.stage"]
# Concrete ids a customer may dismiss: templates bound to products and categories.
DISMISSABLE = [*OFFER_IDS, "offer.cart:p1", "offer.interest:phones", "offer.accessory:cases"]


@cache
def templated() -> tuple[Catalogue, Policies]:
    """One template per slot, offers on every trigger with no cooldown, over the same
    products and categories the steps buy, browse and put in the cart."""
    everywhere = ["page_view", "app_open", "store_visit", "purchase", "cart_add", "search"]
    templates: list[dict[str, Any]] = [
        {"slot": "cart_product"},
        {"slot": "interest_category", "min_affinity": 1},
        {"slot": "purchase_accessory"},
        {
            "slot": "life_stage",
            "propositions": {
                # Filed under another category than the steps buy p<i> in: the
                # product rule must hold on its own, not through the category rest.
                stage: {"category": CATEGORIES[(i + 1) % 3], "product_id": f"p{i}", "reason": stage}
                for i, stage in enumerate(["student", "young_adult", "family", "retired"])
            },
        },
    ]
    version = "templated"
    catalogue = parse_catalogue(
        {
            "categories": {"phones": {"accessories": ["cases", "plans"]}},
            "actions": [
                *(
                    action(
                        offer_id,
                        category="misc",
                        value=10 + i,
                        cooldown="1s",
                        triggers=everywhere,
                        template=template,
                    )
                    for i, (offer_id, template) in enumerate(
                        zip(TEMPLATE_IDS, templates, strict=True)
                    )
                ),
                action("service.help", kind="service", value=1, triggers=everywhere, cooldown="1s"),
            ],
        },
        version,
    )
    return catalogue, Policies().model_copy(update={"policy_version": version})


GAPS = st.sampled_from([1, 20, 300, 3600, 6 * 3600, 86_400, 10 * 86_400, 20 * 86_400])
CHANNEL_OR_ALL = st.sampled_from([None, "web", "phone", "mobile", "store", "email"])


def _consent(granted: bool, channel: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"purpose": "marketing", "granted": granted}
    if channel is not None:
        attributes["channel"] = channel
    return attributes


STEP = st.one_of(
    st.tuples(
        st.just("consent_updated"),
        st.just("web"),
        st.builds(_consent, st.booleans(), CHANNEL_OR_ALL),
    ),
    st.tuples(
        st.just("complaint_opened"),
        st.sampled_from(["web", "phone"]),
        st.builds(lambda c: {"case_id": c}, st.sampled_from(["1", "2", "3"])),
    ),
    st.tuples(
        st.just("complaint_resolved"),
        st.just("phone"),
        st.builds(lambda c: {"case_id": c}, st.sampled_from(["1", "2", "3"])),
    ),
    st.tuples(
        st.just("purchase"),
        st.sampled_from(["web", "store"]),
        st.builds(
            lambda i, o: {
                "order_id": f"o{o}",
                "items": [{"product_id": f"p{i}", "category": CATEGORIES[i % 3]}],
            },
            st.integers(0, 3),
            st.integers(0, 999),
        ),
    ),
    st.tuples(
        st.just("action_dismissed"),
        st.sampled_from(["web", "mobile"]),
        st.builds(lambda a: {"decision_id": "d", "action_id": a}, st.sampled_from(DISMISSABLE)),
    ),
    st.tuples(
        st.just("page_view"),
        st.sampled_from(["web", "mobile"]),
        st.fixed_dictionaries({"page_type": st.sampled_from(["home", "product", "account"])}),
    ),
    st.tuples(
        st.just("page_view"),
        st.just("web"),
        st.builds(
            lambda i: {
                "page_type": "product",
                "product_id": f"p{i}",
                "category": CATEGORIES[i % 3],
            },
            st.integers(0, 3),
        ),
    ),
    st.tuples(
        st.sampled_from(["cart_add", "cart_remove"]),
        st.sampled_from(["web", "mobile"]),
        st.builds(
            lambda i: {"product_id": f"p{i}", "category": CATEGORIES[i % 3]}, st.integers(0, 3)
        ),
    ),
    st.tuples(
        st.just("profile_updated"),
        st.just("web"),
        st.builds(
            lambda stage: {"life_stage": stage},
            st.sampled_from(["student", "young_adult", "family", "retired", "established"]),
        ),
    ),
    st.tuples(st.just("app_open"), st.just("mobile"), st.just({})),
    st.tuples(st.just("call_started"), st.just("phone"), st.just({})),
    st.tuples(st.just("store_visit"), st.just("store"), st.just({"store_id": "s1"})),
    st.tuples(st.just("checkout_failed"), st.sampled_from(["web", "mobile"]), st.just({})),
    st.tuples(st.just("search"), st.just("web"), st.just({"results_count": 0})),
    st.tuples(st.just("redeliver"), st.just(""), st.integers(0, 1000)),
)
# Half the customers start opted in everywhere, so offers are common enough to test caps.
SEQUENCES = st.tuples(st.booleans(), st.lists(st.tuples(GAPS, STEP), min_size=1, max_size=40))


def build(steps: list[tuple[int, tuple[str, str, Any]]]) -> list[InteractionEvent]:
    events: list[InteractionEvent] = []
    at = T0
    for number, (gap, (kind, channel, data)) in enumerate(steps):
        at += timedelta(seconds=gap)
        if kind == "redeliver":
            if events:
                events.append(events[data % len(events)])
            continue
        events.append(event(kind, channel, at, event_id=f"s{number}", attrs=data))
    return events


def check(
    opted_in: bool, events: list[InteractionEvent], catalogue: Catalogue, policies: Policies
) -> None:
    ctx = context(profile=Profile(timezone=str(ZONE)), consent=consent() if opted_in else {})
    history = ContactHistory.empty(CUSTOMER)
    decided: set[str] = set()
    per_channel_day: dict[tuple[str, Any], int] = defaultdict(int)
    per_day: dict[Any, int] = defaultdict(int)
    dismissals: dict[str, list[datetime]] = defaultdict(list)
    bought: list[tuple[str, str, datetime]] = []  # product, category, when
    now = T0
    for item in events:
        now = max(now, item.occurred_at)  # a redelivery comes later than the original
        ctx = apply_event(ctx, item, CUSTOMER, False, now)
        repeat = item.event_id in decided
        if item.type == "action_dismissed" and not repeat:
            dismissals[item.attributes["action_id"]].append(item.occurred_at)
        if item.type == "purchase" and not repeat:
            bought.extend(
                (line["product_id"], line["category"], item.occurred_at)
                for line in item.attributes["items"]
            )
        result = decide(item, ctx, history, catalogue, policies, now)
        history = result.history
        decided.add(item.event_id)
        assert len(result.actions) <= 1
        if repeat:
            assert result.actions == []
            assert result.suppressions == []
        for emitted in result.actions:
            channel = emitted.channel.value
            assert channel == item.channel.value
            assert emitted.reasons
            assert emitted.policy_version == policies.policy_version
            if emitted.action.kind.value != "offer":
                continue
            assert ctx.has_consent("marketing", channel), "offer without consent"
            assert not ctx.open_complaints, "offer during an open complaint"
            day = now.astimezone(ZONE).date()
            per_channel_day[(channel, day)] += 1
            per_day[day] += 1
            assert per_channel_day[(channel, day)] <= policies.caps.offers_per_channel_per_day
            assert per_day[day] <= policies.caps.offers_per_day
            offered: set[str | None] = set(
                catalogue.by_id[emitted.action.id.split(":")[0]].products
            )
            offered.add(emitted.action.payload.get("product_id"))
            rest = policies.recent_purchase.category_rest
            for product, category, at in bought:
                assert product not in offered, f"offered {product}, already bought"
                resting = at <= now < at + rest
                assert not (resting and category == emitted.action.category), "category rests"
            times = sorted(dismissals[emitted.action.id])
            for earlier, later in itertools.pairwise(times):
                if later - earlier <= policies.fatigue.within:
                    assert not (later <= now < later + policies.fatigue.rest), "fatigued action"
        for suppression in result.suppressions:
            assert suppression.detail


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(SEQUENCES)
def test_invariants_with_an_aggressive_catalogue(sequence: tuple[bool, list[Any]]) -> None:
    check(sequence[0], build(sequence[1]), *aggressive())


@SETTINGS
@given(SEQUENCES)
def test_invariants_with_the_starter_catalogue(sequence: tuple[bool, list[Any]]) -> None:
    config = starter()
    check(sequence[0], build(sequence[1]), config.catalogue, config.policies)


@SETTINGS
@given(SEQUENCES)
def test_invariants_with_a_templated_catalogue(sequence: tuple[bool, list[Any]]) -> None:
    check(sequence[0], build(sequence[1]), *templated())


@SETTINGS
@given(SEQUENCES)
def test_suppressions_pair_up(sequence: tuple[bool, list[Any]]) -> None:
    """Every lift names a suppression that was activated and not yet lifted."""
    catalogue, policies = aggressive()
    ctx = context(consent=consent() if sequence[0] else {})
    history = ContactHistory.empty(CUSTOMER)
    active: set[str] = set()
    now = T0
    for item in build(sequence[1]):
        now = max(now, item.occurred_at)
        ctx = apply_event(ctx, item, CUSTOMER, False, now)
        result = decide(item, ctx, history, catalogue, policies, now)
        history = result.history
        for suppression in result.suppressions:
            if suppression.state.value == "lifted":
                assert suppression.suppression_id in active
                active.discard(suppression.suppression_id)
            else:
                active.add(suppression.suppression_id)
