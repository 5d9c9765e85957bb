"""Each kind of journey contains what it promises, within the shipped policies' windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.context.reducers import apply_event
from libs.contract.identifiers import normalise_phone
from libs.contract.interaction import InteractionEvent
from services.decision.domain.decide import decide
from services.decision.domain.history import ContactHistory
from services.simulator.builder import TimedEvent, stamped
from services.simulator.customers import PHONE_POOL_SIZE, customer
from services.simulator.journeys import journey_of_kind
from tests.unit.decision.support import starter

# Several customers and seeds per kind: the random branches inside a kind all show up.
SAMPLES = [(number, seed) for number in (1, 17, 250, 999) for seed in (1, 2, 3, 4, 5)]
MINUTE = 60.0


def of_type(journey: list[TimedEvent], event_type: str) -> list[TimedEvent]:
    return [timed for timed in journey if timed.event["type"] == event_type]


def types(journey: list[TimedEvent]) -> list[str]:
    return [timed.event["type"] for timed in journey]


def identity(timed: TimedEvent) -> dict[str, Any]:
    result: dict[str, Any] = timed.event["identity"]
    return result


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_cart_abandonment_is_followed_by_a_call_from_the_customers_phone(
    number: int, seed: int
) -> None:
    journey = journey_of_kind("cart_abandon_call", number, seed)
    person = customer(number)
    failures = of_type(journey, "checkout_failed")
    assert [f.channel for f in failures] == ["web", "web"]
    assert all(identity(f)["customer_id"] == person.customer_id for f in failures)
    # Frustration policy: two failures within 30 minutes, the call within the 2 h carry-over.
    assert failures[1].offset_seconds - failures[0].offset_seconds < 30 * MINUTE
    phone = [timed for timed in journey if timed.channel == "phone"]
    assert types(phone)[:3] == ["call_started", "ivr_step", "call_queued"]
    assert phone[0].offset_seconds > failures[1].offset_seconds
    assert phone[2].offset_seconds - failures[1].offset_seconds < 120 * MINUTE
    assert all(identity(timed) == {"phone": person.phone} for timed in phone)
    # The phone is linked to the customer before the call: by the web login.
    (login,) = of_type(journey, "identify")
    assert login.offset_seconds < phone[0].offset_seconds
    assert normalise_phone(identity(login)["phone"]) == person.phone


def test_a_caller_beyond_the_phone_pool_keys_in_their_account_number() -> None:
    number = PHONE_POOL_SIZE + 5
    journey = journey_of_kind("cart_abandon_call", number, 1)
    calls = [timed for timed in journey if timed.channel == "phone"]
    assert calls
    assert all(identity(t) == {"customer_id": customer(number).customer_id} for t in calls)


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_anonymous_browsing_ends_in_a_login_linking_the_cookie(number: int, seed: int) -> None:
    journey = journey_of_kind("browse_then_login", number, seed)
    person = customer(number)
    types_seen = types(journey)
    login_at = types_seen.index("identify")
    assert login_at > 2
    assert all(identity(t) == {"anonymous_id": person.anonymous_id} for t in journey[:login_at])
    login = identity(journey[login_at])
    assert login["customer_id"] == person.customer_id
    assert login["anonymous_id"] == person.anonymous_id
    assert login["email"] == person.email
    assert normalise_phone(login["phone"]) == person.phone
    assert identity(journey[-1])["customer_id"] == person.customer_id


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_a_complaint_opened_on_a_call_is_resolved_later(number: int, seed: int) -> None:
    journey = journey_of_kind("complaint", number, seed)
    (opened,) = of_type(journey, "complaint_opened")
    (resolved,) = of_type(journey, "complaint_resolved")
    assert opened.channel == "phone"
    assert resolved.event["attributes"]["case_id"] == opened.event["attributes"]["case_id"]
    assert resolved.offset_seconds - opened.offset_seconds >= 60 * MINUTE
    assert types(journey)[:3] == ["call_started", "ivr_step", "call_queued"]
    (verified,) = of_type(journey, "identify")
    assert verified.offset_seconds < opened.offset_seconds
    assert identity(verified)["customer_id"] == customer(number).customer_id


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_store_journeys_identify_by_loyalty_card(number: int, seed: int) -> None:
    person = customer(number)
    bought = journey_of_kind("store_purchase", number, seed)
    assert types(bought) == ["store_visit", "purchase"]
    assert all(timed.channel == "store" for timed in bought)
    assert identity(bought[1]) == {"loyalty_id": person.loyalty_id}
    assert bought[1].event["attributes"]["items"]
    assisted = journey_of_kind("store_assist", number, seed)
    assert types(assisted)[:2] == ["store_visit", "associate_assist"]
    assert (
        assisted[1].event["attributes"]["store_id"] == assisted[0].event["attributes"]["store_id"]
    )


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_online_purchases_are_by_known_customers_after_a_checkout(number: int, seed: int) -> None:
    journey = journey_of_kind("online_purchase", number, seed)
    (purchase,) = of_type(journey, "purchase")
    assert purchase.channel in {"web", "mobile"}
    assert identity(purchase)["customer_id"] == customer(number).customer_id
    assert types(journey)[-2:] == ["checkout_started", "purchase"]
    items = purchase.event["attributes"]["items"]
    added = {t.event["attributes"]["product_id"] for t in of_type(journey, "cart_add")}
    assert {item["product_id"] for item in items} == added


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_consent_is_given_for_marketing_and_withdrawn_for_the_same_scope(
    number: int, seed: int
) -> None:
    (given,) = of_type(journey_of_kind("consent_given", number, seed), "consent_updated")
    assert given.event["attributes"]["purpose"] == "marketing"
    assert given.event["attributes"]["granted"] is True
    granted, withdrawn = of_type(
        journey_of_kind("consent_withdrawn", number, seed), "consent_updated"
    )
    assert (granted.event["attributes"]["granted"], withdrawn.event["attributes"]["granted"]) == (
        True,
        False,
    )
    assert granted.event["attributes"].get("channel") == withdrawn.event["attributes"].get(
        "channel"
    )
    assert withdrawn.offset_seconds - granted.offset_seconds >= 24 * 60 * MINUTE


def test_consent_scopes_cover_single_channels_and_all() -> None:
    scopes = {
        of_type(journey_of_kind("consent_given", n, 1), "consent_updated")[0]
        .event["attributes"]
        .get("channel")
        for n in range(1, 200)
    }
    assert None in scopes
    assert {"email", "sms", "push", "web"} <= scopes


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_a_dismissed_offer_names_the_decision_that_showed_it(number: int, seed: int) -> None:
    journey = journey_of_kind("offer_dismissed", number, seed)
    shown = of_type(journey, "action_shown")
    dismissed = of_type(journey, "action_dismissed")
    assert shown
    assert len(shown) == len(dismissed)
    for show, dismiss in zip(shown, dismissed, strict=True):
        assert dismiss.event["attributes"] == show.event["attributes"]
        assert dismiss.offset_seconds > show.offset_seconds
    assert len({d.event["attributes"]["action_id"] for d in dismissed}) == 1


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_mobile_journeys_carry_the_device(number: int, seed: int) -> None:
    journey = journey_of_kind("mobile_push", number, seed)
    assert {"push_opened", "push_dismissed", "app_open"} & set(types(journey))
    assert all(t.channel == "mobile" for t in journey)
    assert all(identity(t)["device_id"] == customer(number).device_id for t in journey)


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_three_empty_searches_fall_within_ten_minutes(number: int, seed: int) -> None:
    searches = of_type(journey_of_kind("empty_searches", number, seed), "search")
    assert [s.event["attributes"]["results_count"] for s in searches] == [0, 0, 0]
    assert searches[-1].offset_seconds - searches[0].offset_seconds < 10 * MINUTE


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_a_help_loop_is_three_or_more_help_pages_in_one_session(number: int, seed: int) -> None:
    journey = journey_of_kind("help_loop", number, seed)
    help_pages = [t for t in journey if t.event["attributes"].get("page_type") == "help"]
    assert len(help_pages) >= 3
    assert len({t.event["session_id"] for t in help_pages}) == 1
    assert help_pages[-1].offset_seconds - help_pages[0].offset_seconds < 30 * MINUTE


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_an_abandoned_call_gives_up_in_the_ivr_or_the_queue(number: int, seed: int) -> None:
    journey = journey_of_kind("abandoned_call", number, seed)
    (abandoned,) = of_type(journey, "call_abandoned")
    assert abandoned.event["attributes"]["stage"] in {"ivr", "queue"}
    assert identity(abandoned) == {"phone": customer(number).phone}
    assert journey[-1].event["type"] == "app_open"


def test_both_abandonment_stages_occur() -> None:
    stages = {
        of_type(journey_of_kind("abandoned_call", n, 1), "call_abandoned")[0].event["attributes"][
            "stage"
        ]
        for n in range(1, 60)
    }
    assert stages == {"ivr", "queue"}


def test_call_durations_match_the_calls_offsets() -> None:
    journey = journey_of_kind("complaint", 3, 3)
    (started,) = of_type(journey, "call_started")
    (ended,) = of_type(journey, "call_ended")
    duration = ended.event["attributes"]["duration_seconds"]
    assert duration == pytest.approx(ended.offset_seconds - started.offset_seconds, abs=0.1)


@pytest.mark.parametrize(("number", "seed"), SAMPLES)
def test_an_offer_burst_gets_offers_up_to_the_caps_then_a_frequency_cap(
    number: int, seed: int
) -> None:
    """Through the real context reducers and decisions with the shipped configuration."""
    config = starter()
    caps = config.policies.caps
    start = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)  # mid-morning in London: one day
    person = customer(number)
    context = None
    history = ContactHistory.empty(person.customer_id)
    offers: list[str] = []
    capped_at: datetime | None = None
    for timed in journey_of_kind("offer_burst", number, seed):
        at = start + timedelta(seconds=timed.offset_seconds)
        event = InteractionEvent.model_validate(stamped(timed.event, at))
        context = apply_event(context, event, person.customer_id, False, at)
        result = decide(event, context, history, config.catalogue, config.policies, at)
        history = result.history
        for action in result.actions:
            if action.action.kind.value == "offer":
                assert capped_at is None, "an offer after the daily cap"
                offers.append(action.channel.value)
        for suppression in result.suppressions:
            if suppression.reason.value == "frequency_cap" and not suppression.scope.channels:
                assert suppression.until is not None
                assert suppression.until > at
                capped_at = at
    assert offers.count("web") == caps.offers_per_channel_per_day
    assert len(offers) == caps.offers_per_day
    assert capped_at is not None
