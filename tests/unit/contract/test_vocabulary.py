"""The vocabulary: every type, its attributes, the channels it may come from."""

import pytest
from pydantic import ValidationError

from libs.contract import attributes as a
from libs.contract.common import Channel
from libs.contract.examples import example_interaction
from libs.contract.interaction import InteractionEvent
from libs.contract.vocabulary import (
    ATTRIBUTES_BY_TYPE,
    CHANNELS_BY_TYPE,
    EventType,
    allowed_channels,
    attributes_model,
    is_custom_type,
    is_known_type,
)

ANY = frozenset(Channel)
WEB_AND_MOBILE = frozenset({Channel.web, Channel.mobile})
PHONE = frozenset({Channel.phone})
STORE = frozenset({Channel.store})

# Transcribed from contract.md so that a registry edit which drifts from the
# spec fails here rather than in a channel team's integration.
CONTRACT_CHANNELS = {
    "identify": ANY,
    "consent_updated": ANY,
    "profile_updated": ANY,
    "purchase": ANY,
    "complaint_opened": ANY,
    "complaint_resolved": ANY,
    "action_shown": ANY,
    "action_accepted": ANY,
    "action_dismissed": ANY,
    "page_view": WEB_AND_MOBILE,
    "screen_view": WEB_AND_MOBILE,
    "search": WEB_AND_MOBILE,
    "cart_add": WEB_AND_MOBILE,
    "cart_remove": WEB_AND_MOBILE,
    "checkout_started": WEB_AND_MOBILE,
    "checkout_failed": WEB_AND_MOBILE,
    "app_open": WEB_AND_MOBILE,
    "push_opened": WEB_AND_MOBILE,
    "push_dismissed": WEB_AND_MOBILE,
    "call_started": PHONE,
    "ivr_step": PHONE,
    "call_queued": PHONE,
    "call_abandoned": PHONE,
    "call_connected": PHONE,
    "call_ended": PHONE,
    "store_visit": STORE,
    "associate_assist": STORE,
    "return": STORE,
}

CONTRACT_REQUIRED = {
    "consent_updated": {"purpose", "granted"},
    "purchase": {"order_id", "items"},
    "complaint_opened": {"case_id"},
    "complaint_resolved": {"case_id"},
    "action_shown": {"decision_id", "action_id"},
    "action_accepted": {"decision_id", "action_id"},
    "action_dismissed": {"decision_id", "action_id"},
    "cart_add": {"product_id"},
    "cart_remove": {"product_id"},
    "ivr_step": {"menu"},
    "call_abandoned": {"stage"},
    "store_visit": {"store_id"},
    "return": {"product_id"},
}


def test_registry_lists_exactly_the_contract_vocabulary() -> None:
    assert set(ATTRIBUTES_BY_TYPE) == set(CONTRACT_CHANNELS) == {t.value for t in EventType}


@pytest.mark.parametrize("event_type", sorted(CONTRACT_CHANNELS))
def test_each_type_is_allowed_on_the_contract_channels(event_type: str) -> None:
    assert CHANNELS_BY_TYPE[event_type] == CONTRACT_CHANNELS[event_type]


@pytest.mark.parametrize("event_type", sorted(CONTRACT_CHANNELS))
def test_required_attributes_are_those_starred_in_the_contract(event_type: str) -> None:
    model = ATTRIBUTES_BY_TYPE[event_type]
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert required == CONTRACT_REQUIRED.get(event_type, set())


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_type_validates_with_a_realistic_example(event_type: EventType) -> None:
    event = InteractionEvent.from_sender(example_interaction(event_type))
    typed = event.typed_attributes()
    assert type(typed) is ATTRIBUTES_BY_TYPE[event_type]
    assert event.channel in allowed_channels(event_type)


def test_purchase_attributes_are_typed() -> None:
    event = InteractionEvent.from_sender(example_interaction("purchase"))
    purchase = event.attributes_as(a.PurchaseAttributes)
    assert purchase.order_id == "ord-2025-000123"
    assert [item.product_id for item in purchase.items] == ["sku-4411", "sku-0932"]
    assert purchase.items[1].quantity == 2


def test_attributes_as_refuses_the_wrong_model() -> None:
    event = InteractionEvent.from_sender(example_interaction("purchase"))
    with pytest.raises(TypeError, match="PurchaseAttributes"):
        event.attributes_as(a.CartAttributes)


def test_unknown_attribute_keys_are_kept_at_every_level() -> None:
    record = example_interaction("purchase")
    record["attributes"]["gift_wrap"] = {"message": "happy birthday"}
    record["attributes"]["items"][0]["colour"] = "black"
    event = InteractionEvent.from_sender(record)
    assert event.attributes["gift_wrap"] == {"message": "happy birthday"}
    typed = event.attributes_as(a.PurchaseAttributes)
    assert typed.model_extra == {"currency": "GBP", "gift_wrap": {"message": "happy birthday"}}
    assert typed.items[0].model_extra == {"colour": "black"}


@pytest.mark.parametrize(
    ("event_type", "attributes", "path"),
    [
        ("cart_add", {"product_id": "p", "price": "9.99"}, ("price",)),
        ("consent_updated", {"purpose": "marketing", "granted": 1}, ("granted",)),
        ("consent_updated", {"purpose": "marketing", "granted": "true"}, ("granted",)),
        ("consent_updated", {"purpose": "sales", "granted": True}, ("purpose",)),
        (
            "consent_updated",
            {"purpose": "service", "granted": True, "channel": "fax"},
            ("channel",),
        ),
        ("purchase", {"order_id": "o", "items": []}, ("items",)),
        (
            "purchase",
            {"order_id": "o", "items": [{"product_id": "p", "category": "c", "quantity": 2.0}]},
            ("items", 0, "quantity"),
        ),
        ("purchase", {"order_id": "o", "items": [{"product_id": "p"}]}, ("items", 0, "category")),
        ("search", {"results_count": -1}, ("results_count",)),
        ("call_abandoned", {"stage": "agent"}, ("stage",)),
        ("complaint_opened", {"case_id": "c", "severity": "critical"}, ("severity",)),
        ("page_view", {"page_type": "landing"}, ("page_type",)),
        ("store_visit", {"store_id": ""}, ("store_id",)),
    ],
)
def test_attribute_values_are_strict(
    event_type: str, attributes: dict[str, object], path: tuple[object, ...]
) -> None:
    with pytest.raises(ValidationError) as raised:
        attributes_model(event_type).model_validate(attributes)
    assert raised.value.errors()[0]["loc"] == path


def test_a_price_may_be_a_json_integer() -> None:
    cart = a.CartAttributes.model_validate({"product_id": "p", "price": 10})
    assert cart.price == 10.0


@pytest.mark.parametrize(
    ("name", "custom"),
    [
        ("x-loyalty_tier_changed", True),
        ("x-Survey.Completed-2", True),
        ("x-" + "a" * 62, True),
        ("x-" + "a" * 63, False),
        ("x-", False),
        ("x-_leading", False),
        ("x-has space", False),
        ("x-trailing\n", False),
        ("X-upper-prefix", False),
        ("purchase", False),
    ],
)
def test_custom_type_names(name: str, custom: bool) -> None:
    assert is_custom_type(name) is custom


def test_custom_types_are_known_allowed_everywhere_and_free() -> None:
    assert is_known_type("x-survey")
    assert not is_known_type("survey")
    assert allowed_channels("x-survey") == frozenset(Channel)
    assert attributes_model("x-survey") is a.CustomAttributes
    with pytest.raises(KeyError):
        attributes_model("survey")
