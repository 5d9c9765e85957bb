"""Applying one interaction event to a customer's context: pure, idempotent, never raising.

``apply_event`` records what every event shares (the recent-interaction ring,
the channel session, first/last seen, the idempotence fingerprint), then hands
over to the one small reducer for the event's type, then prunes frustration
signals to their windows as of ``now``.

Attributes are read defensively from the raw ``event.attributes`` mapping
rather than re-validated: intake has checked them against the contract, and a
value of the wrong shape here only means that part of the state is left
unchanged (the event is still recorded). A reducer that raised would stall the
customer's partition; one that skips a malformed attribute costs nothing.

An event older than a signal's window is still recorded in history (the ring,
outcome counters, purchases); its signal occurrence is added and pruned in the
same step, so windows stay exact whatever the delivery order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from libs.context.bounded import (
    add_purchases,
    add_signal,
    add_to_cart,
    apply_consent,
    insert_interaction,
    open_complaint,
    prune_signals,
    record_outcome,
    remember_resolution,
    remove_from_cart,
)
from libs.context.interests import (
    SIGNAL_WEIGHTS,
    cart_lines_for,
    forget_products,
    note_category,
    note_product,
)
from libs.context.model import (
    CONSENT_PURPOSES,
    CONTACT_CHANNELS,
    HELP_LOOP_VIEWS,
    MAX_ATTRIBUTE_CHARS,
    MAX_IVR_MENUS_PER_CALL,
    MAX_PROCESSED_EVENT_IDS,
    MAX_PURCHASES,
    MAX_RECENT_PER_CHANNEL,
    SESSION_IDLE_TIMEOUT,
    CartLine,
    Complaint,
    ConsentState,
    CustomerContext,
    Interaction,
    Profile,
    Purchase,
    Scalar,
    Session,
    evolve,
)
from libs.contract.interaction import InteractionEvent

Reducer = Callable[[CustomerContext, InteractionEvent, datetime], CustomerContext]

VIEW_TYPES: Final = frozenset({"page_view", "screen_view"})
# Events that begin a session of their own even without a session id: a new
# call is a new conversation, a store visit a new trip.
SESSION_OPENERS: Final = frozenset({"call_started", "store_visit"})
SEVERITIES: Final = frozenset({"low", "medium", "high"})
_LARGEST_INT: Final = 2**53  # JSON readers beyond orjson lose precision above it

# The attributes worth keeping on an interaction, per type. Search queries are
# left out: free text a person typed may hold personal data and no rule needs
# it. Other free text (reasons) is cut to MAX_ATTRIBUTE_CHARS.
KEY_ATTRIBUTES: Final[Mapping[str, tuple[str, ...]]] = {
    "consent_updated": ("purpose", "channel", "granted"),
    "purchase": ("order_id", "total"),
    "complaint_opened": ("case_id", "category", "severity"),
    "complaint_resolved": ("case_id",),
    "action_shown": ("action_id", "decision_id"),
    "action_accepted": ("action_id", "decision_id"),
    "action_dismissed": ("action_id", "decision_id"),
    "page_view": ("page_type", "product_id", "category"),
    "screen_view": ("page_type", "product_id", "category"),
    "search": ("results_count",),
    "cart_add": ("product_id", "category", "price"),
    "cart_remove": ("product_id", "category"),
    "checkout_failed": ("reason",),
    "call_started": ("dialled",),
    "ivr_step": ("menu", "option"),
    "call_queued": ("queue",),
    "call_abandoned": ("stage", "wait_seconds"),
    "call_connected": ("queue", "agent_id"),
    "call_ended": ("duration_seconds", "disposition"),
    "store_visit": ("store_id",),
    "associate_assist": ("store_id", "associate_id"),
    "return": ("product_id", "reason"),
}


def apply_event(
    ctx: CustomerContext | None,
    event: InteractionEvent,
    customer_id: str,
    provisional: bool,
    now: datetime,
) -> CustomerContext:
    """The context after ``event``; ``ctx`` itself when the event was already applied.

    ``customer_id``/``provisional`` come from the identity stage. A context that
    was ever known stays known. Raises ``ValueError`` only for a wiring error:
    a context of another customer.
    """
    fingerprint = event_fingerprint(event.event_id)
    if ctx is not None:
        if ctx.customer_id != customer_id:
            raise ValueError(f"context of {ctx.customer_id!r} given for {customer_id!r}")
        if fingerprint in ctx.processed_event_ids:
            return ctx
    at = stored_time(event.occurred_at)
    context = _record(ctx, event, customer_id, provisional, at, fingerprint)
    reducer = REDUCERS.get(event.type)
    if reducer is not None:
        context = reducer(context, event, at)
    signals = prune_signals(context.signals, now)
    return context if signals is context.signals else evolve(context, signals=signals)


def event_fingerprint(event_id: str) -> str:
    """A 64-bit hex digest of the event id: 16 characters however long the id (up to 128).

    Two of one customer's last 64 events colliding is a 1-in-10^17 event.
    """
    return hashlib.blake2b(event_id.encode(), digest_size=8).hexdigest()


def stored_time(moment: datetime) -> datetime:
    """UTC at whole seconds, the precision the context stores."""
    return moment.astimezone(UTC).replace(microsecond=0)


# --- what every event records ------------------------------------------------------


def _record(
    ctx: CustomerContext | None,
    event: InteractionEvent,
    customer_id: str,
    provisional: bool,
    at: datetime,
    fingerprint: str,
) -> CustomerContext:
    channel = event.channel.value
    if ctx is None:
        ctx = CustomerContext(customer_id, provisional, at, at, channel)
    interaction = Interaction(event.event_id, event.type, at, key_attributes(event))
    ring = insert_interaction(ctx.recent.get(channel, ()), interaction, MAX_RECENT_PER_CHANNEL)
    return evolve(
        ctx,
        provisional=ctx.provisional and provisional,
        first_seen=min(ctx.first_seen, at),
        last_seen=max(ctx.last_seen, at),
        last_channel=channel if at >= ctx.last_seen else ctx.last_channel,
        recent={**ctx.recent, channel: ring},
        sessions=_touch_session(ctx.sessions, channel, event, at),
        processed_event_ids=(*ctx.processed_event_ids, fingerprint)[-MAX_PROCESSED_EVENT_IDS:],
    )


def key_attributes(event: InteractionEvent) -> dict[str, Scalar]:
    """The type's key attributes that are storable scalars; long strings cut to the bound."""
    kept: dict[str, Scalar] = {}
    for name in KEY_ATTRIBUTES.get(event.type, ()):
        value = _storable(event.attributes.get(name))
        if value is not None:
            kept[name] = value
    return kept


def _storable(value: Any) -> Scalar | None:
    # bool before int: True is an int to Python but a flag to the contract.
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value[:MAX_ATTRIBUTE_CHARS] if value else None
    if isinstance(value, int):
        return value if abs(value) < _LARGEST_INT else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _touch_session(
    sessions: Mapping[str, Session], channel: str, event: InteractionEvent, at: datetime
) -> Mapping[str, Session]:
    current = sessions.get(channel)
    views = 1 if event.type in VIEW_TYPES else 0
    if current is None or _starts_new_session(current, event, at):
        if current is not None and at < current.last_at:
            return sessions  # a late event of an earlier session: history only
        return {**sessions, channel: Session(event.session_id, at, at, views)}
    continued = Session(
        current.session_id or event.session_id,
        min(current.started_at, at),
        max(current.last_at, at),
        current.views + views,
        current.help_views,
        current.ivr_menus,
    )
    return {**sessions, channel: continued}


def _starts_new_session(current: Session, event: InteractionEvent, at: datetime) -> bool:
    session_id = event.session_id
    if event.type in SESSION_OPENERS:
        return session_id is None or session_id != current.session_id
    if session_id is not None and current.session_id is not None:
        return session_id != current.session_id
    # Without ids on both sides, time decides: close enough to the session to belong to it.
    return not (
        current.started_at - SESSION_IDLE_TIMEOUT <= at <= current.last_at + SESSION_IDLE_TIMEOUT
    )


# --- one reducer per event type ------------------------------------------------------


def _consent_updated(
    ctx: CustomerContext, event: InteractionEvent, at: datetime
) -> CustomerContext:
    attributes = event.attributes
    purpose = _text(attributes, "purpose")
    granted = attributes.get("granted")
    channel = _text(attributes, "channel")
    if purpose not in CONSENT_PURPOSES or not isinstance(granted, bool):
        return ctx
    if attributes.get("channel") is not None and channel not in CONTACT_CHANNELS:
        return ctx  # a channel we cannot honour is not read as "all channels"
    statement = ConsentState(granted, at)
    return evolve(ctx, consent=apply_consent(ctx.consent, purpose, channel, statement))


def _profile_updated(
    ctx: CustomerContext, event: InteractionEvent, at: datetime
) -> CustomerContext:
    attributes = event.attributes
    current = ctx.profile
    profile = Profile(
        segment=_text(attributes, "segment") or current.segment,
        life_stage=_text(attributes, "life_stage") or current.life_stage,
        value_tier=_text(attributes, "value_tier") or current.value_tier,
        timezone=_text(attributes, "timezone") or current.timezone,
        language=_text(attributes, "language") or current.language,
    )
    return ctx if profile == current else evolve(ctx, profile=profile)


def _purchase(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
    order_id = _text(event.attributes, "order_id")
    items = event.attributes.get("items")
    if order_id is None or not isinstance(items, list):
        return ctx
    bought = [
        Purchase(order_id, product_id, category, at)
        for item in items
        if isinstance(item, dict)
        and (product_id := _text(item, "product_id")) is not None
        and (category := _text(item, "category")) is not None
    ]
    if not bought:
        return ctx
    bought_ids = [purchase.product_id for purchase in bought]
    cart = remove_from_cart(ctx.cart, bought_ids)
    # Bought is no longer "of interest": the category's affinity stays (the rest
    # rule keeps offers of it away), the products leave the list and the cart.
    return evolve(
        ctx,
        purchases=add_purchases(ctx.purchases, bought, MAX_PURCHASES),
        cart=cart,
        cart_lines=cart_lines_for(cart, ctx.cart_lines),
        products_of_interest=forget_products(ctx.products_of_interest, bought_ids),
    )


def _complaint_opened(
    ctx: CustomerContext, event: InteractionEvent, at: datetime
) -> CustomerContext:
    attributes = event.attributes
    case_id = _text(attributes, "case_id")
    if case_id is None or case_id in ctx.open_complaints:
        return ctx
    resolved_at = ctx.resolved_complaints.get(case_id)
    if resolved_at is not None and resolved_at >= at:
        return ctx  # its resolution overtook it on the way here
    severity = _text(attributes, "severity")
    complaint = Complaint(
        category=_text(attributes, "category"),
        severity=severity if severity in SEVERITIES else None,
        opened_at=at,
        channel=event.channel.value,
    )
    return evolve(ctx, open_complaints=open_complaint(ctx.open_complaints, case_id, complaint))


def _complaint_resolved(
    ctx: CustomerContext, event: InteractionEvent, at: datetime
) -> CustomerContext:
    case_id = _text(event.attributes, "case_id")
    if case_id is None:
        return ctx
    open_complaints = ctx.open_complaints
    complaint = open_complaints.get(case_id)
    if complaint is not None and complaint.opened_at <= at:
        open_complaints = {case: c for case, c in open_complaints.items() if case != case_id}
    return evolve(
        ctx,
        open_complaints=open_complaints,
        resolved_complaints=remember_resolution(ctx.resolved_complaints, case_id, at),
    )


def _action_outcome(kind: str) -> Reducer:
    def reduce(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
        action_id = _text(event.attributes, "action_id")
        if action_id is None:
            return ctx
        return evolve(ctx, outcomes=record_outcome(ctx.outcomes, action_id, kind, at))

    return reduce


def _view(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
    if event.attributes.get("page_type") != "help":
        return _interest(ctx, event, at)
    channel = event.channel.value
    session = ctx.sessions.get(channel)
    if session is None or not session.covers(at):
        return ctx
    counted = evolve(session, help_views=session.help_views + 1)
    ctx = evolve(ctx, sessions={**ctx.sessions, channel: counted})
    if counted.help_views >= HELP_LOOP_VIEWS:
        ctx = evolve(ctx, signals=add_signal(ctx.signals, "help_page_loop", at))
    return ctx


def _search(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
    ctx = _interest(ctx, event, at)
    results = event.attributes.get("results_count")
    if type(results) is not int or results != 0:  # bool is not a count
        return ctx
    return evolve(ctx, signals=add_signal(ctx.signals, "empty_search", at))


def _cart_add(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
    product_id = _text(event.attributes, "product_id")
    if product_id is None:
        return ctx
    ctx = _interest(ctx, event, at)
    if product_id in ctx.cart:
        return ctx
    cart = add_to_cart(ctx.cart, product_id)
    price = _storable(event.attributes.get("price"))
    line = CartLine(
        _text(event.attributes, "category"),
        at,
        float(price) if isinstance(price, int | float) and not isinstance(price, bool) else None,
    )
    return evolve(
        ctx, cart=cart, cart_lines=cart_lines_for(cart, {**ctx.cart_lines, product_id: line})
    )


def _cart_remove(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
    product_id = _text(event.attributes, "product_id")
    if product_id is None or product_id not in ctx.cart:
        return ctx
    line = ctx.cart_lines.get(product_id)
    category = _text(event.attributes, "category") or (line.category if line else None)
    if category is not None:
        ctx = evolve(
            ctx, interests=note_category(ctx.interests, category, SIGNAL_WEIGHTS["cart_remove"], at)
        )
    cart = remove_from_cart(ctx.cart, (product_id,))
    return evolve(ctx, cart=cart, cart_lines=cart_lines_for(cart, ctx.cart_lines))


def _return(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
    """A return counts against the product's category (known from the purchase)."""
    product_id = _text(event.attributes, "product_id")
    if product_id is None:
        return ctx
    category = next(
        (p.category for p in reversed(ctx.purchases) if p.product_id == product_id), None
    )
    products = forget_products(ctx.products_of_interest, (product_id,))
    interests = (
        ctx.interests
        if category is None
        else note_category(ctx.interests, category, SIGNAL_WEIGHTS["return"], at)
    )
    return evolve(ctx, interests=interests, products_of_interest=products)


def _interest(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
    """A positive interest signal: the category's affinity and the product, when named.

    Only what the channel names (``category``, ``product_id``): a search query is
    free text and never read.
    """
    attributes = event.attributes
    category = _text(attributes, "category")
    product_id = _text(attributes, "product_id")
    if category is None and product_id is None:
        return ctx
    interests = ctx.interests
    if category is not None:
        interests = note_category(interests, category, SIGNAL_WEIGHTS[event.type], at)
    products = ctx.products_of_interest
    if product_id is not None:
        products = note_product(products, product_id, category, at)
    return evolve(ctx, interests=interests, products_of_interest=products)


def _signal(signal: str) -> Reducer:
    def reduce(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
        return evolve(ctx, signals=add_signal(ctx.signals, signal, at))

    return reduce


def _ivr_step(ctx: CustomerContext, event: InteractionEvent, at: datetime) -> CustomerContext:
    menu = _text(event.attributes, "menu")
    channel = event.channel.value
    session = ctx.sessions.get(channel)
    if menu is None or session is None or not session.covers(at):
        return ctx
    if menu in session.ivr_menus:
        return evolve(ctx, signals=add_signal(ctx.signals, "ivr_loop", at))
    if len(session.ivr_menus) >= MAX_IVR_MENUS_PER_CALL:
        return ctx
    visited = evolve(session, ivr_menus=(*session.ivr_menus, menu))
    return evolve(ctx, sessions={**ctx.sessions, channel: visited})


def _text(attributes: Mapping[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    return value[:MAX_ATTRIBUTE_CHARS] if isinstance(value, str) and value else None


# Types not listed (identify, checkout_started, app_open, push_*, call_started,
# call_queued, call_connected, call_ended, store_visit, x-<name>) change only
# what every event records.
REDUCERS: Final[Mapping[str, Reducer]] = {
    "consent_updated": _consent_updated,
    "profile_updated": _profile_updated,
    "purchase": _purchase,
    "complaint_opened": _complaint_opened,
    "complaint_resolved": _complaint_resolved,
    "action_shown": _action_outcome("shown"),
    "action_accepted": _action_outcome("accepted"),
    "action_dismissed": _action_outcome("dismissed"),
    "page_view": _view,
    "screen_view": _view,
    "search": _search,
    "cart_add": _cart_add,
    "cart_remove": _cart_remove,
    "checkout_failed": _signal("failed_checkout"),
    "call_abandoned": _signal("abandoned_call"),
    "ivr_step": _ivr_step,
    "associate_assist": _interest,
    "return": _return,
}
