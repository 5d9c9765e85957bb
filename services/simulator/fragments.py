"""Pieces journeys are made of: identities as each channel knows the customer, and
recurring steps (browsing, a login, a call into a queue, a consent change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.simulator import catalogue as cat
from services.simulator.builder import JourneyWriter
from services.simulator.customers import Customer, as_typed

# --- identities as each channel system knows the customer ------------------------------


def anonymous(c: Customer) -> dict[str, str]:
    return {"anonymous_id": c.anonymous_id}


def web(c: Customer) -> dict[str, str]:
    return {"customer_id": c.customer_id, "anonymous_id": c.anonymous_id}


def app(c: Customer) -> dict[str, str]:
    return {"customer_id": c.customer_id, "device_id": c.device_id}


def digital(channel: str, c: Customer) -> dict[str, str]:
    return web(c) if channel == "web" else app(c)


def caller(c: Customer) -> dict[str, str]:
    # Caller line identity; customers beyond the fictional phone pool key in
    # their account number at the IVR instead.
    return {"phone": c.phone} if c.phone else {"customer_id": c.customer_id}


def verified_caller(c: Customer) -> dict[str, str]:
    """After the agent's identity check: the account is known as well as the line."""
    return {"customer_id": c.customer_id, **({"phone": c.phone} if c.phone else {})}


def card(c: Customer) -> dict[str, str]:
    return {"loyalty_id": c.loyalty_id}


# --- shared fragments -------------------------------------------------------------------


def view_type(channel: str) -> str:
    return "page_view" if channel == "web" else "screen_view"


def any_product(w: JourneyWriter) -> cat.Product:
    return w.rng.choice(cat.PRODUCTS)


def purchase_attributes(w: JourneyWriter, products: list[cat.Product]) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    total = 0.0
    for product in products:
        quantity = w.rng.randint(1, 3) if product.category == "cables" else 1
        total += product.price * quantity
        items.append(
            {
                "product_id": product.product_id,
                "category": product.category,
                "price": product.price,
                "quantity": quantity,
            }
        )
    return {
        "order_id": f"ord-{w.journey.suffix()}",
        "items": items,
        "total": round(total, 2),
        "currency": "GBP",
    }


def browse(w: JourneyWriter, channel: str, identity: dict[str, str], session: str) -> None:
    view = view_type(channel)
    w.emit(channel, view, identity, {"page_type": "home"}, session=session)
    for _ in range(w.rng.randint(1, 3)):
        product = any_product(w)
        w.emit(
            channel,
            view,
            identity,
            {"page_type": "category", "category": product.category},
            session=session,
        )
        w.emit(
            channel,
            view,
            identity,
            {
                "page_type": "product",
                "product_id": product.product_id,
                "category": product.category,
            },
            session=session,
        )


def cart_add(
    w: JourneyWriter, channel: str, identity: dict[str, str], session: str, product: cat.Product
) -> None:
    attributes = {"product_id": product.product_id, "category": product.category}
    w.emit(
        channel,
        view_type(channel),
        identity,
        {"page_type": "product", **attributes},
        session=session,
    )
    w.emit(channel, "cart_add", identity, {**attributes, "price": product.price}, session=session)


def login(w: JourneyWriter, c: Customer, session: str) -> None:
    """The web login: links the cookie, e-mail, phone and loyalty card to the customer."""
    w.emit("web", "page_view", anonymous(c), {"page_type": "account"}, session=session)
    identity = {**web(c), "email": c.email, "loyalty_id": c.loyalty_id}
    if c.phone:
        identity["phone"] = as_typed(c.phone)
    w.emit("web", "identify", identity, session=session, gap=(15.0, 60.0))


@dataclass(frozen=True, slots=True)
class Call:
    session: str
    started: float


def call_into_queue(w: JourneyWriter, identity: dict[str, str], option: str, queue: str) -> Call:
    call = w.session("phone")
    w.emit("phone", "call_started", identity, {"dialled": cat.SERVICE_NUMBER}, session=call)
    started = w.elapsed
    w.emit(
        "phone",
        "ivr_step",
        identity,
        {"menu": "main", "option": option},
        session=call,
        gap=(8.0, 25.0),
    )
    w.emit("phone", "call_queued", identity, {"queue": queue}, session=call, gap=(5.0, 20.0))
    return Call(call, started)


def hang_up(
    w: JourneyWriter,
    identity: dict[str, str],
    call: Call,
    disposition: str,
    talk: tuple[float, float],
) -> None:
    # The duration the switch reports is the whole call, so it matches the offsets.
    gap = w.rng.uniform(*talk)
    duration = round(w.elapsed + gap - call.started, 1)
    w.emit(
        "phone",
        "call_ended",
        identity,
        {"duration_seconds": duration, "disposition": disposition},
        session=call.session,
        gap=(gap, gap),
    )


def agent(w: JourneyWriter) -> str:
    return f"agent-{w.rng.randrange(cat.AGENTS):04d}"


def consent(
    w: JourneyWriter,
    channel: str,
    identity: dict[str, str],
    scope: str | None,
    granted: bool,
    session: str | None,
) -> None:
    attributes: dict[str, Any] = {"purpose": "marketing", "granted": granted}
    if scope is not None:
        attributes["channel"] = scope
    w.emit(channel, "consent_updated", identity, attributes, session=session)
