"""A realistic, valid `interaction/v1` record for every type of the vocabulary.

Shared by the docs, the tests and the benchmark so that all three talk about
the same events; channel teams may use them as fixtures too.
"""

import copy
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from libs.contract.common import Channel
from libs.contract.vocabulary import EventType, allowed_channels

_T = EventType
_EXAMPLE_ATTRIBUTES: Final[Mapping[str, dict[str, Any]]] = MappingProxyType(
    {
        _T.identify: {},
        _T.consent_updated: {"purpose": "marketing", "channel": "email", "granted": False},
        _T.profile_updated: {
            "segment": "young_professional",
            "life_stage": "first_home",
            "value_tier": "gold",
            "timezone": "Europe/London",
            "language": "en-GB",
        },
        _T.purchase: {
            "order_id": "ord-2025-000123",
            "items": [
                {"product_id": "sku-4411", "category": "headphones", "price": 129.0, "quantity": 1},
                {"product_id": "sku-0932", "category": "cables", "price": 9.99, "quantity": 2},
            ],
            "total": 148.98,
            "currency": "GBP",
        },
        _T.complaint_opened: {"case_id": "case-77812", "category": "delivery", "severity": "high"},
        _T.complaint_resolved: {"case_id": "case-77812"},
        _T.action_shown: {"decision_id": "dec-5f1c2a", "action_id": "offer-broadband-upgrade"},
        _T.action_accepted: {"decision_id": "dec-5f1c2a", "action_id": "offer-broadband-upgrade"},
        _T.action_dismissed: {"decision_id": "dec-5f1c2a", "action_id": "offer-broadband-upgrade"},
        _T.page_view: {"page_type": "product", "product_id": "sku-4411", "category": "headphones"},
        _T.screen_view: {"page_type": "help", "category": "returns"},
        _T.search: {"query": "noise cancelling headphones", "results_count": 0},
        _T.cart_add: {"product_id": "sku-4411", "category": "headphones", "price": 129.0},
        _T.cart_remove: {"product_id": "sku-0932", "category": "cables", "price": 9.99},
        _T.checkout_started: {},
        _T.checkout_failed: {"reason": "card_declined"},
        _T.app_open: {},
        _T.push_opened: {"campaign": "spring-sale"},
        _T.push_dismissed: {},
        _T.call_started: {"dialled": "0800-123-456"},
        _T.ivr_step: {"menu": "main", "option": "billing"},
        _T.call_queued: {"queue": "billing"},
        _T.call_abandoned: {"stage": "queue", "wait_seconds": 412},
        _T.call_connected: {"agent_id": "agent-0193", "queue": "billing"},
        _T.call_ended: {"duration_seconds": 318.5, "disposition": "resolved"},
        _T.store_visit: {"store_id": "store-london-042"},
        _T.associate_assist: {"store_id": "store-london-042", "associate_id": "assoc-118"},
        _T.return_: {"product_id": "sku-4411", "reason": "faulty"},
    }
)

_EXAMPLE_IDENTITY: Final[Mapping[Channel, dict[str, str]]] = MappingProxyType(
    {
        Channel.web: {"customer_id": "cust-000042", "anonymous_id": "anon-7c9e6679"},
        Channel.mobile: {"customer_id": "cust-000042", "device_id": "dev-8f14e45f"},
        Channel.phone: {"phone": "+442079460958"},
        Channel.store: {"loyalty_id": "loy-5500123"},
    }
)


def example_attributes(event_type: str) -> dict[str, Any]:
    """A fresh copy: callers may mutate it."""
    return copy.deepcopy(_EXAMPLE_ATTRIBUTES[EventType(event_type)])


def example_interaction(
    event_type: str,
    *,
    channel: Channel | None = None,
    event_id: str = "evt-01J8Z3Q4R5S6T7",
    occurred_at: str = "2025-05-01T12:00:00.250Z",
) -> dict[str, Any]:
    """A valid record as a channel system would send it (a fresh, mutable dict)."""
    chosen = channel or _first_allowed_channel(event_type)
    identity = dict(_EXAMPLE_IDENTITY[chosen])
    if event_type == EventType.identify:
        identity["email"] = "Jane.Doe@example.com"
    record: dict[str, Any] = {
        "schema": "interaction/v1",
        "event_id": event_id,
        "type": event_type,
        "channel": chosen.value,
        "occurred_at": occurred_at,
        "identity": identity,
        "session_id": f"sess-{chosen.value}-3a41",
        "attributes": example_attributes(event_type),
    }
    return record


def _first_allowed_channel(event_type: str) -> Channel:
    allowed = allowed_channels(event_type)
    return next(channel for channel in Channel if channel in allowed)
