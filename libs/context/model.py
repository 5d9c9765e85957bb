"""The live customer context: one frozen record per customer, bounded, JSON on disk.

Everything here is immutable: records are frozen dataclasses, sequences are
tuples, and mapping fields are typed ``Mapping`` and only ever replaced by a
new dict (never mutated), so a context handed to the decision stage cannot
change under it. Reducers (``reducers.py``) build the next context.

Every collection is bounded by a module constant below, so one customer's
record has a ceiling in bytes no matter how busy they are (docs/context.md).
Timestamps are stored in UTC at whole seconds: ample for windows of minutes
to days, and shorter on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import orjson
from pydantic import TypeAdapter

__all__ = [
    "ANONYMOUS_TTL",
    "CONSENT_PURPOSES",
    "CONTACT_CHANNELS",
    "HELP_LOOP_VIEWS",
    "INTEREST_FLOOR",
    "INTEREST_HALF_LIFE",
    "MAX_ATTRIBUTE_CHARS",
    "MAX_CART_ITEMS",
    "MAX_INTEREST_CATEGORIES",
    "MAX_INTEREST_PRODUCTS",
    "MAX_IVR_MENUS_PER_CALL",
    "MAX_MERGED_SOURCES",
    "MAX_OPEN_COMPLAINTS",
    "MAX_PROCESSED_EVENT_IDS",
    "MAX_PURCHASES",
    "MAX_RECENT_DISMISSALS",
    "MAX_RECENT_PER_CHANNEL",
    "MAX_RESOLVED_COMPLAINTS",
    "MAX_SIGNAL_TIMESTAMPS",
    "MAX_TRACKED_ACTIONS",
    "SESSION_IDLE_TIMEOUT",
    "SIGNAL_WINDOWS",
    "ActionOutcome",
    "CartLine",
    "CategoryInterest",
    "Complaint",
    "ConsentState",
    "CustomerContext",
    "Interaction",
    "ProductInterest",
    "Profile",
    "Purchase",
    "PurposeConsent",
    "Scalar",
    "Session",
    "SignalName",
    "evolve",
]

Scalar: TypeAlias = str | int | float | bool
SignalName = Literal[
    "abandoned_call", "failed_checkout", "empty_search", "help_page_loop", "ivr_loop"
]

# --- bounds (each documented in docs/context.md) --------------------------------------

MAX_RECENT_PER_CHANNEL: Final = 20
"""Interactions kept per channel (web, phone, mobile, store), newest by occurrence."""
MAX_ATTRIBUTE_CHARS: Final = 128
"""Longest string attribute kept on an interaction; ids and labels are at most this by contract."""
SESSION_IDLE_TIMEOUT: Final = timedelta(minutes=30)
"""Without a session id, an event this long after the last one starts a new session."""
MAX_IVR_MENUS_PER_CALL: Final = 16
"""Distinct IVR menus remembered per call to spot a caller going round in circles."""
HELP_LOOP_VIEWS: Final = 3
"""The third help page in one session, and each after it, is a help-page loop."""
MAX_OPEN_COMPLAINTS: Final = 20
"""Open cases kept; beyond it the oldest opened is dropped (never seen in practice)."""
MAX_RESOLVED_COMPLAINTS: Final = 20
"""Recently resolved case ids, so a resolution that overtakes its opening is not undone."""
MAX_PURCHASES: Final = 50
"""Purchased items kept (one entry per order line), newest first to survive."""
MAX_SIGNAL_TIMESTAMPS: Final = 20
"""Timestamps kept per frustration signal, within its window."""
SIGNAL_WINDOWS: Final[Mapping[str, timedelta]] = MappingProxyType(
    {
        "abandoned_call": timedelta(days=7),
        "failed_checkout": timedelta(days=2),
        "empty_search": timedelta(days=1),
        "help_page_loop": timedelta(days=1),
        "ivr_loop": timedelta(days=2),
    }
)
"""How long each signal is kept; a decision rule may look back at most this far."""
MAX_TRACKED_ACTIONS: Final = 50
"""Actions with outcome counters; the least recently touched is dropped beyond it."""
MAX_RECENT_DISMISSALS: Final = 5
"""Dismissal timestamps kept per action (dismissal-fatigue rules need two)."""
MAX_CART_ITEMS: Final = 50
"""Distinct products in the cart; the earliest added is dropped beyond it."""
MAX_PROCESSED_EVENT_IDS: Final = 64
"""Fingerprints of the customer's last events, for idempotent redelivery. A crash
replays at most the events since the last offset commit (seconds), far fewer
than 64 for one person."""
MAX_MERGED_SOURCES: Final = 16
"""Provisional histories already merged in, so a redelivered merge is a no-op."""
MAX_INTEREST_CATEGORIES: Final = 8
"""Categories with an affinity; beyond it the weakest (decayed to the newest touch) goes."""
MAX_INTEREST_PRODUCTS: Final = 5
"""Products of interest (viewed, carted, asked about), the most recently touched kept."""
INTEREST_HALF_LIFE: Final = timedelta(days=7)
"""An affinity halves every week without a new signal: what someone looks at this
week counts more than what they looked at last month."""
INTEREST_FLOOR: Final = 0.05
"""A category whose decayed affinity falls below this is forgotten (about a month
after a single view)."""
ANONYMOUS_TTL: Final = timedelta(days=30)
"""A provisional context with no event for this long is expired (``is_expired``)."""

CONSENT_PURPOSES: Final = frozenset({"marketing", "personalization", "service"})
CONTACT_CHANNELS: Final = frozenset({"web", "phone", "mobile", "store", "email", "sms", "push"})

_JSON_OPTIONS = orjson.OPT_UTC_Z

if TYPE_CHECKING:
    # Type-checked exactly as ``dataclasses.replace`` (mypy validates the field names and types).
    from dataclasses import replace as evolve
else:

    def evolve(record, /, **changes):
        """``dataclasses.replace`` for these records, without re-running ``__init__``.

        A frozen dataclass's ``__init__`` sets each field through
        ``object.__setattr__``; replace() also reads every field back. For the
        17-field context that is most of a reducer's cost (5.6 µs against
        0.7 µs here). The records have no ``__post_init__`` or ``InitVar``, so
        copying the instance dict is the same result.
        """
        unknown = changes.keys() - record.__dataclass_fields__.keys()
        if unknown:
            raise TypeError(f"{type(record).__name__} has no field(s) {sorted(unknown)}")
        copy = object.__new__(type(record))
        copy.__dict__.update(record.__dict__)
        copy.__dict__.update(changes)
        return copy


@dataclass(frozen=True)
class Interaction:
    """One recent event on a channel, with the few attributes worth keeping."""

    event_id: str
    type: str
    at: datetime
    attributes: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class Session:
    """The customer's current session on one channel."""

    session_id: str | None
    started_at: datetime
    last_at: datetime
    views: int = 0
    """Page or screen views in this session."""
    help_views: int = 0
    ivr_menus: tuple[str, ...] = ()
    """IVR menus visited in this call, in order of first visit."""

    def covers(self, at: datetime) -> bool:
        return self.started_at <= at <= self.last_at


@dataclass(frozen=True)
class Complaint:
    category: str | None
    severity: str | None
    opened_at: datetime
    channel: str


@dataclass(frozen=True)
class ConsentState:
    granted: bool
    at: datetime


@dataclass(frozen=True)
class PurposeConsent:
    """Consent for one purpose: a purpose-wide statement and per-channel ones.

    A purpose-wide grant or withdrawal applies to every channel and supersedes
    older per-channel statements; a per-channel statement newer than it
    overrides it for that channel. Statements are ordered by when they
    occurred, not when they arrived, so late delivery cannot resurrect an old
    grant; on a tie, withdrawal wins.
    """

    all_channels: ConsentState | None = None
    channels: Mapping[str, ConsentState] = field(default_factory=dict)

    def granted(self, channel: str) -> bool:
        purpose_wide = self.all_channels
        specific = self.channels.get(channel)
        if specific is not None:
            if purpose_wide is None or specific.at > purpose_wide.at:
                return specific.granted
            if specific.at == purpose_wide.at:
                return specific.granted and purpose_wide.granted
        return purpose_wide is not None and purpose_wide.granted


@dataclass(frozen=True)
class Purchase:
    order_id: str
    product_id: str
    category: str
    at: datetime


@dataclass(frozen=True)
class ActionOutcome:
    """What became of one catalogue action for this customer."""

    last_at: datetime
    shown: int = 0
    accepted: int = 0
    dismissed: int = 0
    last_shown_at: datetime | None = None
    last_accepted_at: datetime | None = None
    recent_dismissals: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class CategoryInterest:
    """Affinity for one category: a sum of signal weights, each halving every week.

    ``score`` is the value as of ``at`` (the latest signal); read it at another
    instant with ``libs.context.interests.affinity_at``.
    """

    score: float
    at: datetime
    views: int = 0
    """Signals counted since the affinity was last forgotten (for reasons: "looked 4 times")."""


@dataclass(frozen=True)
class ProductInterest:
    """A product the customer looked at, carted or asked about, and when last."""

    product_id: str
    category: str | None
    at: datetime


@dataclass(frozen=True)
class CartLine:
    """What ``cart_add`` said about a product now in the cart."""

    category: str | None
    added_at: datetime
    price: float | None = None


@dataclass(frozen=True)
class Profile:
    segment: str | None = None
    life_stage: str | None = None
    value_tier: str | None = None
    timezone: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class CustomerContext:
    """Everything the decision stage may know about one customer, as of the last event."""

    customer_id: str
    provisional: bool
    first_seen: datetime
    last_seen: datetime
    last_channel: str
    recent: Mapping[str, tuple[Interaction, ...]] = field(default_factory=dict)
    """Per channel, oldest first."""
    sessions: Mapping[str, Session] = field(default_factory=dict)
    open_complaints: Mapping[str, Complaint] = field(default_factory=dict)
    resolved_complaints: Mapping[str, datetime] = field(default_factory=dict)
    consent: Mapping[str, PurposeConsent] = field(default_factory=dict)
    purchases: tuple[Purchase, ...] = ()
    """Oldest first."""
    signals: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)
    """Frustration signal -> occurrence times, oldest first, within ``SIGNAL_WINDOWS``."""
    outcomes: Mapping[str, ActionOutcome] = field(default_factory=dict)
    profile: Profile = field(default_factory=Profile)
    cart: tuple[str, ...] = ()
    """Product ids, in the order they were added."""
    processed_event_ids: tuple[str, ...] = ()
    """Fingerprints (``event_fingerprint``) of the last events applied, oldest first."""
    merged_sources: tuple[str, ...] = ()
    # Interest (added later: a record stored before reads with these empty).
    interests: Mapping[str, CategoryInterest] = field(default_factory=dict)
    """Category -> decaying affinity, at most ``MAX_INTEREST_CATEGORIES``."""
    products_of_interest: tuple[ProductInterest, ...] = ()
    """Most recently touched last, at most ``MAX_INTEREST_PRODUCTS``, one per product."""
    cart_lines: Mapping[str, CartLine] = field(default_factory=dict)
    """Product id -> its line, for products in ``cart`` whose ``cart_add`` was seen."""

    # --- queries ---------------------------------------------------------------------

    def has_consent(self, purpose: str, channel: str) -> bool:
        """Opt-in: True only if ``purpose`` stands granted for ``channel`` (absent = False)."""
        consent = self.consent.get(purpose)
        return consent is not None and consent.granted(channel)

    def signal_count(self, signal: str, within: timedelta, now: datetime) -> int:
        """Occurrences of ``signal`` in ``(now - within, now]``; exact up to the signal's window."""
        since = now - within
        return sum(1 for at in self.signals.get(signal, ()) if since < at <= now)

    def last_signal_at(self, signal: str) -> datetime | None:
        times = self.signals.get(signal)
        return times[-1] if times else None

    @property
    def has_open_complaint(self) -> bool:
        return bool(self.open_complaints)

    def dismissals_within(self, action_id: str, within: timedelta, now: datetime) -> int:
        outcome = self.outcomes.get(action_id)
        if outcome is None:
            return 0
        since = now - within
        return sum(1 for at in outcome.recent_dismissals if since < at <= now)

    def last_purchase_at(
        self, *, product_id: str | None = None, category: str | None = None
    ) -> datetime | None:
        """The newest purchase matching the filters (both None: any purchase)."""
        for purchase in reversed(self.purchases):
            if product_id is not None and purchase.product_id != product_id:
                continue
            if category is not None and purchase.category != category:
                continue
            return purchase.at
        return None

    # --- storage ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Compact JSON (no whitespace, UTC ``Z`` timestamps)."""
        return orjson.dumps(self, option=_JSON_OPTIONS)

    @classmethod
    def from_bytes(cls, data: bytes) -> CustomerContext:
        """Parse and validate what ``to_bytes`` wrote; fields added later take their defaults."""
        context: CustomerContext = _adapter().validate_json(data)
        return context

    def to_json_dict(self) -> dict[str, Any]:
        """The same record as JSON-native values, for embedding in an envelope model."""
        record: dict[str, Any] = orjson.loads(self.to_bytes())
        return record

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> CustomerContext:
        """Parse and validate what ``to_json_dict`` produced."""
        context: CustomerContext = _adapter().validate_python(data)
        return context


@cache
def _adapter() -> TypeAdapter[Any]:
    # Built on first use, not at import time.
    return TypeAdapter(CustomerContext)
