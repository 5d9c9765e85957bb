"""One customer across channels: web cookie -> login -> call -> store, one customer id at the end.

The stages are simulated the way the Faust adapters drive the domain: identity
plans its table writes and forwards (event, customer id, merges); context
applies the event, then folds each merged provisional context in and drops it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from libs.context import CustomerContext, apply_event, merge_contexts
from libs.contract.interaction import InteractionEvent
from services.intake.identity import (
    IdentifierSet,
    LinkRecord,
    plan_erasure,
    plan_identity_update,
    provisional_customer_id,
)
from tests.unit.context.factories import T0, event

PHONE = "hmac-sha256:" + "a" * 64


@dataclass
class Stages:
    links: dict[str, LinkRecord] = field(default_factory=dict)
    sets: dict[str, IdentifierSet] = field(default_factory=dict)
    contexts: dict[str, CustomerContext] = field(default_factory=dict)

    def process(self, interaction: InteractionEvent) -> str:
        now = interaction.occurred_at
        update = plan_identity_update(interaction, self.links, self.sets, now)
        self.links.update(update.link_writes)
        for key in update.link_deletes:
            del self.links[key]
        self.sets.update(update.set_writes)
        for customer in update.set_deletes:
            del self.sets[customer]

        resolution = update.resolution
        customer = resolution.customer_id
        context = apply_event(
            self.contexts.get(customer), interaction, customer, resolution.provisional, now
        )
        for merged in resolution.merges:
            source = self.contexts.pop(merged, None)
            if source is not None:
                context = merge_contexts(context, source)
        self.contexts[customer] = context
        return customer

    def erase(self, customer_id: str) -> None:
        erasure = plan_erasure(customer_id, self.links, self.sets)
        for key in erasure.link_deletes:
            del self.links[key]
        for customer in erasure.set_deletes:
            del self.sets[customer]
        self.contexts.pop(customer_id, None)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def test_web_login_call_and_store_visit_resolve_to_one_customer() -> None:
    stages = Stages()
    cookie = {"anonymous_id": "cookie-1"}
    browsing = provisional_customer_id("anon:cookie-1")

    # Anonymous on the web: a provisional customer with history.
    assert stages.process(event("page_view", at=minutes(0), identity=cookie, page_type="home"))
    stages.process(event("cart_add", at=minutes(1), identity=cookie, product_id="sku-1"))
    stages.process(event("checkout_failed", at=minutes(2), identity=cookie, reason="card"))
    assert set(stages.contexts) == {browsing}

    # Login: the cookie's history moves into the customer.
    login = {"customer_id": "C", "anonymous_id": "cookie-1"}
    assert stages.process(event("identify", at=minutes(3), identity=login)) == "C"
    assert set(stages.contexts) == {"C"}
    customer = stages.contexts["C"]
    assert customer.provisional is False
    assert customer.cart == ("sku-1",)
    assert customer.signal_count("failed_checkout", timedelta(hours=1), T0 + minutes(3)) == 1
    assert [i.type for i in customer.recent["web"]] == [
        "page_view",
        "cart_add",
        "checkout_failed",
        "identify",
    ]

    # The cookie alone now means the customer.
    assert stages.process(event("page_view", at=minutes(4), identity=cookie)) == "C"

    # A call from an unknown number: provisional until the IVR verifies the caller.
    caller = {"phone_hash": PHONE}
    call = provisional_customer_id(f"phone:{PHONE}")
    phone = {"on": "phone", "session_id": "call-1"}
    assert stages.process(event("call_started", at=minutes(30), identity=caller, **phone)) == call
    stages.process(event("ivr_step", at=minutes(31), identity=caller, menu="billing", **phone))
    verified = {"customer_id": "C", "phone_hash": PHONE}
    assert stages.process(event("identify", at=minutes(32), identity=verified, **phone)) == "C"
    assert stages.process(event("call_ended", at=minutes(40), identity=caller, **phone)) == "C"
    assert call not in stages.contexts

    # In store: the loyalty card is registered to the customer at the till.
    card = {"loyalty_id": "L-9"}
    store = {"on": "store"}
    card_visit = provisional_customer_id("loy:L-9")
    assert (
        stages.process(event("store_visit", at=minutes(90), identity=card, store_id="S1", **store))
        == card_visit
    )
    till = {"customer_id": "C", "loyalty_id": "L-9"}
    assert stages.process(event("identify", at=minutes(95), identity=till, **store)) == "C"
    assert stages.process(event("associate_assist", at=minutes(96), identity=card, **store)) == "C"

    # One customer, every identifier linked to them, every history merged.
    assert set(stages.contexts) == {"C"}
    assert set(stages.sets) == {"C"}
    assert set(stages.sets["C"].keys) == {"cid:C", "anon:cookie-1", f"phone:{PHONE}", "loy:L-9"}
    assert {link.customer_id for link in stages.links.values()} == {"C"}
    customer = stages.contexts["C"]
    assert set(customer.recent) == {"web", "phone", "store"}
    assert [i.type for i in customer.recent["phone"]] == [
        "call_started",
        "ivr_step",
        "identify",
        "call_ended",
    ]
    assert [i.type for i in customer.recent["store"]] == [
        "store_visit",
        "identify",
        "associate_assist",
    ]
    assert customer.first_seen == T0
    assert customer.last_channel == "store"


def test_after_erasure_old_identifiers_start_from_nothing() -> None:
    stages = Stages()
    stages.process(event("page_view", at=minutes(0), identity={"anonymous_id": "a"}))
    stages.process(
        event("identify", at=minutes(1), identity={"customer_id": "C", "anonymous_id": "a"})
    )

    stages.erase("C")

    assert stages.links == {}
    assert stages.sets == {}
    assert stages.contexts == {}
    fresh = stages.process(event("page_view", at=minutes(2), identity={"anonymous_id": "a"}))
    assert fresh == provisional_customer_id("anon:a")
    assert len(stages.contexts[fresh].recent["web"]) == 1


def test_a_shared_tablet_follows_the_last_login_and_keeps_histories_apart() -> None:
    stages = Stages()
    tablet = {"device_id": "tablet"}
    mobile = {"on": "mobile"}
    stages.process(
        event("identify", at=minutes(0), identity={"customer_id": "A", **tablet}, **mobile)
    )
    stages.process(event("screen_view", at=minutes(1), identity=tablet, **mobile))
    stages.process(
        event("identify", at=minutes(2), identity={"customer_id": "B", **tablet}, **mobile)
    )
    assert stages.process(event("screen_view", at=minutes(3), identity=tablet, **mobile)) == "B"

    assert set(stages.contexts) == {"A", "B"}
    assert len(stages.contexts["A"].recent["mobile"]) == 2
    assert len(stages.contexts["B"].recent["mobile"]) == 2
    # A still lists the tablet, but erasing A leaves B's link alone.
    stages.erase("A")
    assert stages.links["dev:tablet"].customer_id == "B"
