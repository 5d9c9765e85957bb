"""The condition language: parsing (errors at load) and evaluation, table-driven."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from libs.context.model import Profile, Purchase
from services.decision.domain.conditions import Condition
from services.decision.domain.facts import DecisionFacts
from services.decision.domain.policies import FrustrationPolicy
from tests.unit.decision.support import T0, context

CONDITION: TypeAdapter[Condition] = TypeAdapter(Condition)

CTX = context(
    profile=Profile(segment="family", value_tier="gold", life_stage="established"),
    signals={"failed_checkout": (T0 - timedelta(minutes=4), T0 - timedelta(minutes=1))},
    open_complaints={},
    purchases=(Purchase("o1", "phone-x1", "phones", T0 - timedelta(days=3)),),
    cart=("case-1",),
)
FACTS = DecisionFacts(
    CTX, "web", T0, FrustrationPolicy(), "page_view", {"page_type": "account", "price": 12.5}
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"signal": "failed_checkout", "within": "10m", "at_least": 2}, True),
        ({"signal": "failed_checkout", "within": "2m", "at_least": 2}, False),
        ({"signal": "empty_search", "within": "1h"}, False),
        ({"frustrated": True}, True),
        ({"frustrated": ["failed_checkout"]}, True),
        ({"frustrated": ["abandoned_call"]}, False),
        ({"frustrated": False}, False),
        ({"attribute": "profile.value_tier", "in": ["gold", "platinum"]}, True),
        ({"attribute": "profile.value_tier", "equals": "silver"}, False),
        ({"attribute": "profile.value_tier", "not_equals": "silver"}, True),
        ({"attribute": "profile.timezone", "not_equals": "UTC"}, True),  # missing
        ({"attribute": "profile.timezone", "equals": "UTC"}, False),
        ({"attribute": "profile.timezone", "exists": False}, True),
        ({"attribute": "profile.segment", "exists": True}, True),
        ({"attribute": "event.price", "gte": 12.5}, True),
        ({"attribute": "event.price", "lte": 10}, False),
        ({"attribute": "event.page_type", "gte": 1}, False),  # not a number
        ({"attribute": "event.missing", "lte": 1}, False),
        ({"attribute": "cart.items", "gte": 1}, True),
        ({"attribute": "customer.provisional", "equals": False}, True),
        ({"event_type": ["page_view", "search"]}, True),
        ({"event_type": "search"}, False),
        ({"channel": ["web"]}, True),
        ({"channel": "phone"}, False),
        ({"has_open_complaint": True}, False),
        ({"has_open_complaint": False}, True),
        ({"purchased_category_within": {"category": "phones", "within": "30d"}}, True),
        ({"purchased_category_within": {"category": ["phones"], "within": "2d"}}, False),
        ({"purchased_category_within": {"category": "laptops", "within": "30d"}}, False),
        ({"purchased_within": "7d"}, True),
        ({"cart_not_empty": True}, True),
        ({"all": [{"channel": "web"}, {"cart_not_empty": True}]}, True),
        ({"all": [{"channel": "web"}, {"cart_not_empty": False}]}, False),
        ({"any": [{"channel": "phone"}, {"cart_not_empty": True}]}, True),
        ({"any": [{"channel": "phone"}, {"has_open_complaint": True}]}, False),
        ({"not": {"channel": "phone"}}, True),
        ({"not": {"all": [{"channel": "web"}, {"not": {"frustrated": True}}]}}, True),
    ],
)
def test_evaluation(condition: dict[str, Any], expected: bool) -> None:
    parsed = CONDITION.validate_python(condition)
    assert parsed.holds(FACTS) is expected
    assert parsed.describe()


def test_query_facts_have_no_event() -> None:
    facts = DecisionFacts(CTX, "phone", T0, FrustrationPolicy())
    assert CONDITION.validate_python({"event_type": "page_view"}).holds(facts) is False
    assert CONDITION.validate_python({"attribute": "event.page_type", "exists": False}).holds(facts)


@pytest.mark.parametrize(
    ("condition", "path", "message"),
    [
        ({"when": 1}, "", "one of the keys"),
        ("frustrated", "", "one of the keys"),
        ({"signal": "bored", "within": "1m"}, "signal", "'failed_checkout'"),
        ({"signal": "failed_checkout", "within": "10"}, "signal.within", "invalid duration"),
        (
            {"signal": "failed_checkout", "within": "1m", "at_least": 0},
            "signal.at_least",
            "greater than or equal to 1",
        ),
        ({"attribute": "profile.value_tier"}, "attribute", "exactly one operator"),
        ({"attribute": "profile.x", "equals": 1}, "attribute", "unknown key 'x'"),
        ({"attribute": "__class__.mro", "equals": 1}, "attribute", "root one of"),
        ({"attribute": "event.a", "in": []}, "attribute.in", "at least 1"),
        ({"all": []}, "all", "at least 1"),
        ({"any": [{"bogus": 1}]}, "any[0]", "one of the keys"),
        ({"not": {"channel": "fax"}}, "not.channel[0]", "'web'"),
        ({"channel": "web", "extra": 1}, "channel.extra", "Extra inputs"),
    ],
)
def test_invalid_conditions_name_the_path(condition: Any, path: str, message: str) -> None:
    from services.decision.domain.catalogue import _format_path

    with pytest.raises(ValidationError) as raised:
        CONDITION.validate_python(condition)
    problems = [(_format_path(item["loc"]), item["msg"]) for item in raised.value.errors()]
    assert any(where == path and message in text for where, text in problems), problems
