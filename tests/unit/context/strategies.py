"""Hypothesis strategies for contract-valid interaction events.

Identifiers are drawn from small pools so sequences revisit the same products,
cases, menus and actions (loops, repeats, removals), and times from a window
around a moving "now" so late, early and out-of-window events all occur.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from libs.contract.interaction import InteractionEvent
from libs.contract.vocabulary import EVENT_TYPES

PRODUCTS = st.sampled_from([f"p{n}" for n in range(8)])
CATEGORIES = st.sampled_from(["shoes", "socks", "coats"])
CASES = st.sampled_from([f"K{n}" for n in range(4)])
ACTIONS = st.sampled_from([f"A{n}" for n in range(6)])
MENUS = st.sampled_from(["main", "billing", "orders", "agent"])
LABELS = st.text(alphabet="abcdefghij-_", min_size=1, max_size=10)
TEXT = st.text(max_size=40)
NUMBER = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
COUNT = st.integers(min_value=0, max_value=3)
CONTACT = st.sampled_from(["web", "phone", "mobile", "store", "email", "sms", "push"])
PAGE_TYPES = st.sampled_from(
    ["home", "product", "category", "search", "help", "cart", "checkout", "account"]
)


def _attrs(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Any:
    return st.fixed_dictionaries(
        {name: strategy for name, strategy in required.items()},
        optional={name: strategy for name, strategy in (optional or {}).items()},
    )


_OUTCOME = _attrs({"decision_id": LABELS, "action_id": ACTIONS})
_VIEW = _attrs({}, {"page_type": PAGE_TYPES, "product_id": PRODUCTS, "category": CATEGORIES})
_CART = _attrs({"product_id": PRODUCTS}, {"category": CATEGORIES, "price": NUMBER})
_NONE: st.SearchStrategy[dict[str, Any]] = st.just({})

VALID_ATTRIBUTES: dict[str, Any] = {
    "identify": _NONE,
    "consent_updated": _attrs(
        {
            "purpose": st.sampled_from(["marketing", "personalization", "service"]),
            "granted": st.booleans(),
        },
        {"channel": CONTACT},
    ),
    "profile_updated": _attrs(
        {},
        {
            "segment": LABELS,
            "life_stage": LABELS,
            "value_tier": LABELS,
            "timezone": st.just("Europe/Paris"),
            "language": st.just("fr-BE"),
        },
    ),
    "purchase": _attrs(
        {
            "order_id": LABELS,
            "items": st.lists(
                _attrs({"product_id": PRODUCTS, "category": CATEGORIES}, {"price": NUMBER}),
                min_size=1,
                max_size=4,
            ),
        },
        {"total": NUMBER},
    ),
    "complaint_opened": _attrs(
        {"case_id": CASES},
        {"category": LABELS, "severity": st.sampled_from(["low", "medium", "high"])},
    ),
    "complaint_resolved": _attrs({"case_id": CASES}),
    "action_shown": _OUTCOME,
    "action_accepted": _OUTCOME,
    "action_dismissed": _OUTCOME,
    "page_view": _VIEW,
    "screen_view": _VIEW,
    "search": _attrs({}, {"query": TEXT, "results_count": COUNT}),
    "cart_add": _CART,
    "cart_remove": _CART,
    "checkout_started": _NONE,
    "checkout_failed": _attrs({}, {"reason": TEXT}),
    "app_open": _NONE,
    "push_opened": _NONE,
    "push_dismissed": _NONE,
    "call_started": _attrs({}, {"dialled": LABELS}),
    "ivr_step": _attrs({"menu": MENUS}, {"option": LABELS}),
    "call_queued": _attrs({}, {"queue": LABELS}),
    "call_abandoned": _attrs(
        {"stage": st.sampled_from(["ivr", "queue"])}, {"wait_seconds": NUMBER}
    ),
    "call_connected": _attrs({}, {"agent_id": LABELS, "queue": LABELS}),
    "call_ended": _attrs({}, {"duration_seconds": NUMBER, "disposition": LABELS}),
    "store_visit": _attrs({"store_id": LABELS}),
    "associate_assist": _attrs({}, {"store_id": LABELS, "associate_id": LABELS}),
    "return": _attrs({"product_id": PRODUCTS}, {"reason": TEXT}),
    "x-custom": st.dictionaries(LABELS, TEXT, max_size=3),
}

# What a sender may put in `attributes` that the contract model does not check
# per type: any JSON, including the wrong shapes under the right names.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
KNOWN_NAMES = st.sampled_from(
    [
        "purpose",
        "channel",
        "granted",
        "items",
        "order_id",
        "case_id",
        "action_id",
        "product_id",
        "page_type",
        "results_count",
        "menu",
        "segment",
        "severity",
        "reason",
    ]
)
ANY_ATTRIBUTES = st.dictionaries(KNOWN_NAMES | TEXT, JSON_VALUES, max_size=5)


@st.composite
def events(
    draw: st.DrawFn,
    now: datetime,
    *,
    junk: bool = False,
    event_ids: st.SearchStrategy[str] | None = None,
) -> InteractionEvent:
    """A valid event that occurred between 12 days before ``now`` and 5 minutes after."""
    type_ = draw(st.sampled_from(sorted(VALID_ATTRIBUTES)))
    channels = sorted(EVENT_TYPES[type_].channels) if type_ in EVENT_TYPES else ["web", "phone"]
    attributes = draw(ANY_ATTRIBUTES if junk and draw(st.booleans()) else VALID_ATTRIBUTES[type_])
    offset = draw(st.integers(min_value=-12 * 86_400, max_value=300))
    event_id = draw(event_ids) if event_ids is not None else draw(st.uuids()).hex
    record: dict[str, Any] = {
        "schema": "interaction/v1",
        "event_id": event_id,
        "type": type_,
        "channel": draw(st.sampled_from(channels)),
        "occurred_at": (now + timedelta(seconds=offset)).isoformat(),
        "identity": {"anonymous_id": "a"},
        "attributes": attributes,
    }
    session = draw(st.none() | st.sampled_from(["s1", "s2", "s3"]))
    if session is not None:
        record["session_id"] = session
    return InteractionEvent.model_validate(record)


@st.composite
def timelines(
    draw: st.DrawFn, start: datetime, *, max_size: int = 60, junk: bool = False
) -> list[tuple[InteractionEvent, datetime]]:
    """(event, processing time) pairs with a non-decreasing processing time."""
    steps = draw(st.integers(min_value=1, max_value=max_size))
    now = start
    timeline = []
    for _ in range(steps):
        # Mostly bursts (a session), sometimes days apart (a returning customer).
        gap = draw(st.integers(0, 120) | st.integers(0, 2 * 86_400))
        now += timedelta(seconds=gap)
        timeline.append((draw(events(now, junk=junk)), now))
    return timeline
