"""Which interaction types exist, their attributes, and the channels each may come from."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from libs.contract import attributes as a
from libs.contract.common import Channel


class EventType(StrEnum):
    identify = "identify"
    consent_updated = "consent_updated"
    profile_updated = "profile_updated"
    purchase = "purchase"
    complaint_opened = "complaint_opened"
    complaint_resolved = "complaint_resolved"
    action_shown = "action_shown"
    action_accepted = "action_accepted"
    action_dismissed = "action_dismissed"
    page_view = "page_view"
    screen_view = "screen_view"
    search = "search"
    cart_add = "cart_add"
    cart_remove = "cart_remove"
    checkout_started = "checkout_started"
    checkout_failed = "checkout_failed"
    app_open = "app_open"
    push_opened = "push_opened"
    push_dismissed = "push_dismissed"
    call_started = "call_started"
    ivr_step = "ivr_step"
    call_queued = "call_queued"
    call_abandoned = "call_abandoned"
    call_connected = "call_connected"
    call_ended = "call_ended"
    store_visit = "store_visit"
    associate_assist = "associate_assist"
    return_ = "return"


@dataclass(frozen=True, slots=True)
class EventTypeSpec:
    attributes: type[a.Attributes]
    channels: frozenset[Channel]


ANY_CHANNEL: Final = frozenset(Channel)
DIGITAL: Final = frozenset({Channel.web, Channel.mobile})
PHONE: Final = frozenset({Channel.phone})
STORE: Final = frozenset({Channel.store})

CUSTOM_TYPE_PATTERN: Final = r"^x-[A-Za-z0-9][A-Za-z0-9_.-]{0,61}$"
_CUSTOM_TYPE = re.compile(CUSTOM_TYPE_PATTERN, re.ASCII)

_T = EventType
EVENT_TYPES: Final[Mapping[str, EventTypeSpec]] = MappingProxyType(
    {
        _T.identify: EventTypeSpec(a.IdentifyAttributes, ANY_CHANNEL),
        _T.consent_updated: EventTypeSpec(a.ConsentUpdatedAttributes, ANY_CHANNEL),
        _T.profile_updated: EventTypeSpec(a.ProfileUpdatedAttributes, ANY_CHANNEL),
        _T.purchase: EventTypeSpec(a.PurchaseAttributes, ANY_CHANNEL),
        _T.complaint_opened: EventTypeSpec(a.ComplaintOpenedAttributes, ANY_CHANNEL),
        _T.complaint_resolved: EventTypeSpec(a.ComplaintResolvedAttributes, ANY_CHANNEL),
        _T.action_shown: EventTypeSpec(a.ActionOutcomeAttributes, ANY_CHANNEL),
        _T.action_accepted: EventTypeSpec(a.ActionOutcomeAttributes, ANY_CHANNEL),
        _T.action_dismissed: EventTypeSpec(a.ActionOutcomeAttributes, ANY_CHANNEL),
        _T.page_view: EventTypeSpec(a.PageViewAttributes, DIGITAL),
        _T.screen_view: EventTypeSpec(a.PageViewAttributes, DIGITAL),
        _T.search: EventTypeSpec(a.SearchAttributes, DIGITAL),
        _T.cart_add: EventTypeSpec(a.CartAttributes, DIGITAL),
        _T.cart_remove: EventTypeSpec(a.CartAttributes, DIGITAL),
        _T.checkout_started: EventTypeSpec(a.NoAttributes, DIGITAL),
        _T.checkout_failed: EventTypeSpec(a.CheckoutFailedAttributes, DIGITAL),
        _T.app_open: EventTypeSpec(a.NoAttributes, DIGITAL),
        _T.push_opened: EventTypeSpec(a.NoAttributes, DIGITAL),
        _T.push_dismissed: EventTypeSpec(a.NoAttributes, DIGITAL),
        _T.call_started: EventTypeSpec(a.CallStartedAttributes, PHONE),
        _T.ivr_step: EventTypeSpec(a.IvrStepAttributes, PHONE),
        _T.call_queued: EventTypeSpec(a.CallQueuedAttributes, PHONE),
        _T.call_abandoned: EventTypeSpec(a.CallAbandonedAttributes, PHONE),
        _T.call_connected: EventTypeSpec(a.CallConnectedAttributes, PHONE),
        _T.call_ended: EventTypeSpec(a.CallEndedAttributes, PHONE),
        _T.store_visit: EventTypeSpec(a.StoreVisitAttributes, STORE),
        _T.associate_assist: EventTypeSpec(a.AssociateAssistAttributes, STORE),
        _T.return_: EventTypeSpec(a.ReturnAttributes, STORE),
    }
)

ATTRIBUTES_BY_TYPE: Final[Mapping[str, type[a.Attributes]]] = MappingProxyType(
    {name: spec.attributes for name, spec in EVENT_TYPES.items()}
)
CHANNELS_BY_TYPE: Final[Mapping[str, frozenset[Channel]]] = MappingProxyType(
    {name: spec.channels for name, spec in EVENT_TYPES.items()}
)

_CUSTOM_SPEC: Final = EventTypeSpec(a.CustomAttributes, ANY_CHANNEL)


def is_custom_type(name: str) -> bool:
    """`x-<name>`: letters, digits, `_`, `.`, `-`; 64 characters at most in all."""
    return _CUSTOM_TYPE.fullmatch(name) is not None


def is_known_type(name: str) -> bool:
    return name in EVENT_TYPES or is_custom_type(name)


def spec_of(name: str) -> EventTypeSpec:
    """Raises KeyError for a type that is neither in the vocabulary nor custom."""
    spec = EVENT_TYPES.get(name)
    if spec is not None:
        return spec
    if is_custom_type(name):
        return _CUSTOM_SPEC
    raise KeyError(name)


def attributes_model(name: str) -> type[a.Attributes]:
    return spec_of(name).attributes


def allowed_channels(name: str) -> frozenset[Channel]:
    return spec_of(name).channels
