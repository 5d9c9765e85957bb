"""The kinds of journey customers take, each a short story across channels.

Each builder writes one journey with a `JourneyWriter`. Identities are what the
channel system would know at that moment: a cookie before login, the caller's
number on an incoming call, the loyalty card at a till. Gaps are realistic
seconds; the frustration stories stay inside the windows of the shipped
policies (two failed checkouts within 30 minutes, three empty searches within
10 minutes, a call within the 2-hour carry-over).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from services.simulator import catalogue as cat
from services.simulator import fragments as f
from services.simulator.builder import JourneyWriter
from services.simulator.customers import Customer

HOUR: Final = 3600.0
DAY: Final = 24 * HOUR

Builder = Callable[[JourneyWriter, Customer], None]


# --- journeys ---------------------------------------------------------------------------


def browse_then_login(w: JourneyWriter, c: Customer) -> None:
    """An unknown visitor browses, searches, then logs in: identify links the cookie."""
    session = w.session("web")
    f.browse(w, "web", f.anonymous(c), session)
    w.emit(
        "web",
        "search",
        f.anonymous(c),
        {"query": w.rng.choice(cat.GOOD_QUERIES), "results_count": w.rng.randint(3, 40)},
        session=session,
    )
    f.login(w, c, session)
    w.emit("web", "page_view", f.web(c), {"page_type": "account"}, session=session)


def online_purchase(w: JourneyWriter, c: Customer) -> None:
    """A known customer buys on the web or in the app."""
    channel = w.rng.choice(("web", "mobile"))
    identity = f.digital(channel, c)
    session = w.session(channel)
    if channel == "mobile":
        w.emit(channel, "app_open", identity, session=session)
    f.browse(w, channel, identity, session)
    products = w.rng.sample(cat.PRODUCTS, w.rng.randint(1, 2))
    for product in products:
        f.cart_add(w, channel, identity, session, product)
    w.emit(channel, f.view_type(channel), identity, {"page_type": "cart"}, session=session)
    w.emit(channel, "checkout_started", identity, session=session)
    w.emit(
        channel,
        "purchase",
        identity,
        f.purchase_attributes(w, products),
        session=session,
        gap=(30.0, 120.0),
    )


def cart_abandon_call(w: JourneyWriter, c: Customer) -> None:
    """Checkout fails twice on the web; minutes later the customer calls from their phone."""
    session = w.session("web")
    f.login(w, c, session)
    f.cart_add(w, "web", f.web(c), session, f.any_product(w))
    for _ in range(2):
        w.emit("web", "page_view", f.web(c), {"page_type": "checkout"}, session=session)
        w.emit("web", "checkout_started", f.web(c), session=session)
        w.emit(
            "web",
            "checkout_failed",
            f.web(c),
            {"reason": w.rng.choice(cat.CHECKOUT_FAILURES)},
            session=session,
            gap=(20.0, 90.0),
        )
    w.pause(3 * 60, 20 * 60)
    call = f.call_into_queue(w, f.caller(c), "orders", "payments")
    w.emit(
        "phone",
        "call_connected",
        f.caller(c),
        {"agent_id": f.agent(w), "queue": "payments"},
        session=call.session,
        gap=(30.0, 240.0),
    )
    f.hang_up(w, f.caller(c), call, "order_placed", talk=(120.0, 600.0))


def complaint(w: JourneyWriter, c: Customer) -> None:
    """A complaint opened on a call, resolved hours later by the case team."""
    call = f.call_into_queue(w, f.caller(c), "complaints", "complaints")
    w.emit(
        "phone",
        "call_connected",
        f.caller(c),
        {"agent_id": f.agent(w), "queue": "complaints"},
        session=call.session,
        gap=(30.0, 300.0),
    )
    w.emit("phone", "identify", f.verified_caller(c), session=call.session, gap=(20.0, 60.0))
    case_id = f"case-{w.journey.suffix()}"
    w.emit(
        "phone",
        "complaint_opened",
        f.verified_caller(c),
        {
            "case_id": case_id,
            "category": w.rng.choice(cat.COMPLAINT_CATEGORIES),
            "severity": w.rng.choice(("low", "medium", "high")),
        },
        session=call.session,
        gap=(60.0, 240.0),
    )
    f.hang_up(w, f.verified_caller(c), call, "complaint_logged", talk=(60.0, 300.0))
    w.pause(2 * HOUR, 30 * HOUR)
    w.emit("phone", "complaint_resolved", {"customer_id": c.customer_id}, {"case_id": case_id})


def store_purchase(w: JourneyWriter, c: Customer) -> None:
    """A visit and a purchase at the till, where only the loyalty card is known."""
    store = w.rng.choice(cat.STORES)
    w.emit("store", "store_visit", f.card(c), {"store_id": store})
    products = w.rng.sample(cat.PRODUCTS, w.rng.randint(1, 2))
    attributes = {**f.purchase_attributes(w, products), "store_id": store}
    w.emit("store", "purchase", f.card(c), attributes, gap=(5 * 60.0, 40 * 60.0))


def store_assist(w: JourneyWriter, c: Customer) -> None:
    """An associate looks the customer up in the store app and helps; sometimes a sale."""
    store = w.rng.choice(cat.STORES)
    w.emit("store", "store_visit", f.card(c), {"store_id": store})
    associate = f"assoc-{w.rng.randrange(cat.ASSOCIATES_PER_STORE):03d}"
    w.emit(
        "store",
        "associate_assist",
        {**f.card(c), "customer_id": c.customer_id},
        {"store_id": store, "associate_id": associate},
        gap=(60.0, 15 * 60.0),
    )
    if w.rng.random() < 0.5:
        attributes = {**f.purchase_attributes(w, [f.any_product(w)]), "store_id": store}
        w.emit("store", "purchase", f.card(c), attributes, gap=(5 * 60.0, 20 * 60.0))


def consent_given(w: JourneyWriter, c: Customer) -> None:
    """Marketing consent granted for one channel, or for all, where the customer is."""
    channel = w.rng.choice(("web", "mobile", "store"))
    scope = w.rng.choice(cat.CONSENT_SCOPES)
    if channel == "store":
        w.emit("store", "store_visit", f.card(c), {"store_id": w.rng.choice(cat.STORES)})
        identity = {**f.card(c), "customer_id": c.customer_id}
        f.consent(w, "store", identity, scope, granted=True, session=None)
        return
    session = w.session(channel)
    identity = f.digital(channel, c)
    w.emit(channel, f.view_type(channel), identity, {"page_type": "account"}, session=session)
    f.consent(w, channel, identity, scope, granted=True, session=session)


def consent_withdrawn(w: JourneyWriter, c: Customer) -> None:
    """Consent granted online, withdrawn days later (online or on a call)."""
    scope = w.rng.choice(cat.CONSENT_SCOPES)
    session = w.session("web")
    w.emit("web", "page_view", f.web(c), {"page_type": "account"}, session=session)
    f.consent(w, "web", f.web(c), scope, granted=True, session=session)
    w.pause(1 * DAY, 10 * DAY)
    if w.rng.random() < 0.5:
        session = w.session("web")
        w.emit("web", "page_view", f.web(c), {"page_type": "account"}, session=session)
        f.consent(w, "web", f.web(c), scope, granted=False, session=session)
        return
    call = f.call_into_queue(w, f.caller(c), "account", "customer_service")
    w.emit(
        "phone",
        "call_connected",
        f.caller(c),
        {"agent_id": f.agent(w), "queue": "customer_service"},
        session=call.session,
    )
    f.consent(w, "phone", f.verified_caller(c), scope, granted=False, session=call.session)


def offer_dismissed(w: JourneyWriter, c: Customer) -> None:
    """An offer shown and dismissed, sometimes twice in a row (dismissal fatigue)."""
    channel = w.rng.choice(("web", "mobile"))
    identity = f.digital(channel, c)
    action_id = w.rng.choice(cat.DIGITAL_OFFERS)
    for attempt in range(w.rng.choice((1, 1, 2))):
        if attempt:
            w.pause(HOUR, 3 * DAY)
        session = w.session(channel)
        if channel == "mobile":
            w.emit(channel, "app_open", identity, session=session)
        w.emit(channel, f.view_type(channel), identity, {"page_type": "home"}, session=session)
        outcome = {"decision_id": f"dec-{w.rng.getrandbits(64):016x}", "action_id": action_id}
        w.emit(channel, "action_shown", identity, outcome, session=session, gap=(0.5, 2.0))
        w.emit(channel, "action_dismissed", identity, outcome, session=session, gap=(1.0, 8.0))


def mobile_push(w: JourneyWriter, c: Customer) -> None:
    """A push notification opened (into the app) or dismissed; or just an app session."""
    identity = f.app(c)
    session = w.session("mobile")
    roll = w.rng.random()
    if roll < 0.35:
        w.emit("mobile", "push_dismissed", identity, {"campaign": "weekly-deals"})
        return
    if roll < 0.7:
        w.emit("mobile", "push_opened", identity, {"campaign": "weekly-deals"}, session=session)
    w.emit("mobile", "app_open", identity, session=session, gap=(0.5, 3.0))
    f.browse(w, "mobile", identity, session)


def empty_searches(w: JourneyWriter, c: Customer) -> None:
    """Three searches find nothing within minutes; then the help pages."""
    channel = w.rng.choice(("web", "web", "mobile"))
    identity = f.digital(channel, c)
    session = w.session(channel)
    w.emit(channel, f.view_type(channel), identity, {"page_type": "home"}, session=session)
    for query in w.rng.sample(cat.EMPTY_QUERIES, 3):
        w.emit(
            channel,
            "search",
            identity,
            {"query": query, "results_count": 0},
            session=session,
            gap=(10.0, 90.0),
        )
    w.emit(
        channel,
        f.view_type(channel),
        identity,
        {"page_type": "help", "category": "search"},
        session=session,
    )


def help_loop(w: JourneyWriter, c: Customer) -> None:
    """Round and round the help pages in one session without finding the answer."""
    channel = w.rng.choice(("web", "web", "mobile"))
    identity = f.digital(channel, c)
    session = w.session(channel)
    w.emit(channel, f.view_type(channel), identity, {"page_type": "home"}, session=session)
    topics = [w.rng.choice(cat.HELP_TOPICS) for _ in range(w.rng.randint(3, 5))]
    for topic in topics:
        w.emit(
            channel,
            f.view_type(channel),
            identity,
            {"page_type": "help", "category": topic},
            session=session,
            gap=(15.0, 90.0),
        )


def abandoned_call(w: JourneyWriter, c: Customer) -> None:
    """The caller hangs up in the IVR or the queue; later they open the app."""
    identity = f.caller(c)
    call = w.session("phone")
    w.emit("phone", "call_started", identity, {"dialled": cat.SERVICE_NUMBER}, session=call)
    w.emit("phone", "ivr_step", identity, {"menu": "main", "option": "technical"}, session=call)
    if w.rng.random() < 0.3:
        wait = round(w.rng.uniform(20, 90), 1)
        w.emit(
            "phone",
            "call_abandoned",
            identity,
            {"stage": "ivr", "wait_seconds": wait},
            session=call,
            gap=(wait, wait),
        )
    else:
        w.emit("phone", "call_queued", identity, {"queue": "technical"}, session=call)
        wait = round(w.rng.uniform(120, 900), 1)
        w.emit(
            "phone",
            "call_abandoned",
            identity,
            {"stage": "queue", "wait_seconds": wait},
            session=call,
            gap=(wait, wait),
        )
    w.pause(10 * 60, 60 * 60)
    w.emit("mobile", "app_open", f.app(c), session=w.session("mobile"))


def offer_burst(w: JourneyWriter, c: Customer) -> None:
    """A consenting customer shops hard on web and app in a few minutes: offer-worthy
    behaviour enough to reach the offer caps (two per channel, three a day in the
    shipped policies), then a ``frequency_cap`` suppression with ``until``, then nothing."""
    web_session = w.session("web")
    f.consent(w, "web", f.web(c), None, granted=True, session=web_session)
    products = w.rng.sample(cat.PRODUCTS[:8], 3)  # devices, not accessories
    for product in products[:2]:
        f.cart_add(w, "web", f.web(c), web_session, product)
    for _ in range(3):
        w.emit("web", "page_view", f.web(c), {"page_type": "home"}, session=web_session)
    app_session = w.session("mobile")
    w.emit("mobile", "app_open", f.app(c), session=app_session)
    f.cart_add(w, "mobile", f.app(c), app_session, products[2])
    for _ in range(3):
        w.emit("mobile", "screen_view", f.app(c), {"page_type": "home"}, session=app_session)


@dataclass(frozen=True, slots=True)
class JourneyKind:
    weight: int
    build: Builder


# How often each kind is chosen, out of the sum of weights (104).
KINDS: Final[Mapping[str, JourneyKind]] = MappingProxyType(
    {
        "browse_then_login": JourneyKind(15, browse_then_login),
        "online_purchase": JourneyKind(10, online_purchase),
        "cart_abandon_call": JourneyKind(8, cart_abandon_call),
        "complaint": JourneyKind(6, complaint),
        "store_purchase": JourneyKind(8, store_purchase),
        "store_assist": JourneyKind(6, store_assist),
        "consent_given": JourneyKind(8, consent_given),
        "consent_withdrawn": JourneyKind(4, consent_withdrawn),
        "offer_dismissed": JourneyKind(9, offer_dismissed),
        "mobile_push": JourneyKind(10, mobile_push),
        "empty_searches": JourneyKind(6, empty_searches),
        "help_loop": JourneyKind(5, help_loop),
        "abandoned_call": JourneyKind(5, abandoned_call),
        "offer_burst": JourneyKind(4, offer_burst),
    }
)
