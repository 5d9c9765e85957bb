"""The condition language of the catalogue: data, never code.

Eligibility and suitability rules are written in YAML as small mappings
(``{signal: failed_checkout, within: 10m, at_least: 2}``) and parsed at start-up
into the frozen models below, so a typo fails the deployment instead of the
first customer it would have matched. Evaluation is a fixed set of methods over
a read-only :class:`Facts` view: there is no ``eval``, no attribute access by
name on live objects and no way for config to reach anything the facts view
does not expose.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, ClassVar, Protocol, TypeAlias, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from libs.context.model import Profile, SignalName
from libs.contract.common import Channel
from services.decision.domain.durations import Duration, format_duration

# The context service's signal names: a misspelt signal in the catalogue is a
# start-up error, not a rule that never fires.
SIGNAL_NAMES: tuple[SignalName, ...] = get_args(SignalName)

Scalar: TypeAlias = str | int | float | bool

# Attribute paths name a root and a key from this list (any key for ``event``,
# whose attributes are open-ended); the facts view resolves them from fixed
# fields and plain dictionaries, so config can never walk into arbitrary objects.
ATTRIBUTE_KEYS: dict[str, tuple[str, ...] | None] = {
    "profile": tuple(item.name for item in fields(Profile)),
    "event": None,
    "customer": ("provisional", "last_channel", "open_complaints", "purchases", "interests"),
    "cart": ("items",),
}
_PATH = re.compile(r"^([a-z]+)\.([A-Za-z0-9_-]+)$")
MISSING: Any = object()
"""Returned by :meth:`Facts.attribute` for a path with no value."""

Check: TypeAlias = "Callable[[Facts], bool]"
"""A condition compiled to a closure: same answer as ``holds``, without re-reading the model."""


class Facts(Protocol):
    """What conditions may ask about a decision: one event, one context, one instant."""

    @property
    def now(self) -> datetime: ...

    @property
    def event_type(self) -> str | None: ...

    @property
    def channel(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, Any]:
        """Attribute path -> its value, or ``MISSING``; any path the catalogue allows."""

    def attribute(self, path: str) -> Any: ...

    def signal_count(self, signal: str, within: timedelta) -> int: ...

    # Plain answers rather than methods: a compiled condition reads them without a call.
    @property
    def frustrated(self) -> frozenset[str]:
        """The signals the customer is frustrated by now (``policies.frustration``)."""

    @property
    def has_open_complaint(self) -> bool: ...

    @property
    def cart_not_empty(self) -> bool: ...

    def purchased_within(self, categories: frozenset[str] | None, within: timedelta) -> bool: ...


class _Condition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    tag: ClassVar[str]

    def holds(self, facts: Facts) -> bool:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @cached_property
    def check(self) -> Check:
        """``holds`` compiled once: operands bound in a closure, the tree flattened.

        Arbitration evaluates every candidate's conditions on every decision;
        walking the frozen models there (attribute lookups, generators) was
        most of its cost. Cached in the instance dict, which pydantic ignores.
        """
        return self._compile()

    def _compile(self) -> Check:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


class AllOf(_Condition):
    tag: ClassVar[str] = "all"
    all_: tuple[Condition, ...] = Field(alias="all", min_length=1)

    def holds(self, facts: Facts) -> bool:
        return all(item.holds(facts) for item in self.all_)

    def _compile(self) -> Check:
        checks = tuple(item.check for item in self.all_)
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda facts: first(facts) and second(facts)
        if len(checks) == 3:  # spelt out: ``all(...)`` builds a generator per evaluation
            first, second, third = checks
            return lambda facts: first(facts) and second(facts) and third(facts)

        def all_hold(facts: Facts) -> bool:
            return all(check(facts) for check in checks)

        return all_hold

    def describe(self) -> str:
        return "(" + " and ".join(item.describe() for item in self.all_) + ")"


class AnyOf(_Condition):
    tag: ClassVar[str] = "any"
    any_: tuple[Condition, ...] = Field(alias="any", min_length=1)

    def holds(self, facts: Facts) -> bool:
        return any(item.holds(facts) for item in self.any_)

    def _compile(self) -> Check:
        checks = tuple(item.check for item in self.any_)
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda facts: first(facts) or second(facts)
        if len(checks) == 3:  # as in ``AllOf``: no generator per evaluation
            first, second, third = checks
            return lambda facts: first(facts) or second(facts) or third(facts)

        def any_holds(facts: Facts) -> bool:
            return any(check(facts) for check in checks)

        return any_holds

    def describe(self) -> str:
        return "(" + " or ".join(item.describe() for item in self.any_) + ")"


class Not(_Condition):
    tag: ClassVar[str] = "not"
    not_: Condition = Field(alias="not")

    def holds(self, facts: Facts) -> bool:
        return not self.not_.holds(facts)

    def _compile(self) -> Check:
        inner = self.not_.check
        return lambda facts: not inner(facts)

    def describe(self) -> str:
        return f"not {self.not_.describe()}"


class SignalAtLeast(_Condition):
    """``{signal: failed_checkout, within: 10m, at_least: 2}``"""

    tag: ClassVar[str] = "signal"
    signal: SignalName
    within: Duration
    at_least: int = Field(default=1, ge=1)

    def holds(self, facts: Facts) -> bool:
        return facts.signal_count(self.signal, self.within) >= self.at_least

    def _compile(self) -> Check:
        signal, within, at_least = self.signal, self.within, self.at_least
        return lambda facts: facts.signal_count(signal, within) >= at_least

    def describe(self) -> str:
        return f"{self.signal} x{self.at_least} within {format_duration(self.within)}"


class Frustrated(_Condition):
    """``{frustrated: true}`` or ``{frustrated: [failed_checkout]}``.

    Uses the thresholds of ``policies.yaml`` so the catalogue need not repeat
    them; ``true`` means any configured signal.
    """

    tag: ClassVar[str] = "frustrated"
    frustrated: bool | tuple[SignalName, ...]

    @cached_property
    def signals(self) -> frozenset[str]:
        # Built once, not on every evaluation; cached in the instance dict.
        return frozenset(self.frustrated if isinstance(self.frustrated, tuple) else SIGNAL_NAMES)

    def holds(self, facts: Facts) -> bool:
        frustrated = not facts.frustrated.isdisjoint(self.signals)
        return frustrated if self.frustrated is not False else not frustrated

    def _compile(self) -> Check:
        signals = self.signals
        if self.frustrated is False:
            return lambda facts: facts.frustrated.isdisjoint(signals)
        return lambda facts: not facts.frustrated.isdisjoint(signals)

    def describe(self) -> str:
        if isinstance(self.frustrated, bool):
            return "frustrated" if self.frustrated else "not frustrated"
        return f"frustrated by {' or '.join(self.frustrated)}"


class AttributeIs(_Condition):
    """``{attribute: profile.value_tier, in: [gold, platinum]}`` and friends.

    Exactly one operator. A missing attribute satisfies only ``not_equals``
    and ``exists: false``: absence of data must never make an offer eligible
    by accident, and ``gte``/``lte`` compare numbers only.
    """

    tag: ClassVar[str] = "attribute"
    attribute: str
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in", min_length=1)
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    gte: float | None = None
    lte: float | None = None
    exists: bool | None = None

    @field_validator("attribute")
    @classmethod
    def _known_path(cls, path: str) -> str:
        match = _PATH.match(path)
        if match is None or match.group(1) not in ATTRIBUTE_KEYS:
            roots = ", ".join(ATTRIBUTE_KEYS)
            raise ValueError(f"attribute path must be <root>.<key> with root one of {roots}")
        keys = ATTRIBUTE_KEYS[match.group(1)]
        if keys is not None and match.group(2) not in keys:
            raise ValueError(
                f"unknown key {match.group(2)!r}; {match.group(1)} has {', '.join(keys)}"
            )
        return path

    @model_validator(mode="after")
    def _one_operator(self) -> AttributeIs:
        given = [name for name in self._OPERATORS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one operator of in, equals, not_equals, gte, lte, exists"
                f" (got {len(given)})"
            )
        return self

    _OPERATORS: ClassVar[tuple[str, ...]] = (
        "in_",
        "equals",
        "not_equals",
        "gte",
        "lte",
        "exists",
    )

    def holds(self, facts: Facts) -> bool:
        value = facts.attribute(self.attribute)
        if self.exists is not None:
            return (value is not MISSING) is self.exists
        if self.not_equals is not None:
            return value is MISSING or value != self.not_equals
        if value is MISSING:
            return False
        if self.in_ is not None:
            return value in self.in_
        if self.equals is not None:
            return bool(value == self.equals)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.gte is not None:
            return value >= self.gte
        return self.lte is not None and value <= self.lte

    def _compile(self) -> Check:
        # One closure per operator, mirroring ``holds`` branch for branch; the
        # attribute is a subscript of the facts' mapping (no call once answered).
        path = self.attribute
        if self.exists is not None:
            exists = self.exists
            return lambda facts: (facts.attributes[path] is not MISSING) is exists
        if self.not_equals is not None:
            other = self.not_equals

            def not_equals(facts: Facts) -> bool:
                value = facts.attributes[path]
                return value is MISSING or value != other

            return not_equals
        if self.in_ is not None:
            options = self.in_

            def is_in(facts: Facts) -> bool:
                value = facts.attributes[path]
                return value is not MISSING and value in options

            return is_in
        if self.equals is not None:
            expected = self.equals

            def equals(facts: Facts) -> bool:
                value = facts.attributes[path]
                return value is not MISSING and bool(value == expected)

            return equals
        gte, lte = self.gte, self.lte

        def compare(facts: Facts) -> bool:
            value = facts.attributes[path]
            if value is MISSING or isinstance(value, bool) or not isinstance(value, int | float):
                return False
            if gte is not None:
                return value >= gte
            return lte is not None and value <= lte

        return compare

    def describe(self) -> str:
        for name in self._OPERATORS:
            operand = getattr(self, name)
            if operand is not None:
                return f"{self.attribute} {name.rstrip('_')} {operand!r}"
        return self.attribute  # pragma: no cover - the validator forbids it


def _as_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


class EventTypeIs(_Condition):
    """``{event_type: [checkout_failed, call_abandoned]}`` (a single string is fine)."""

    tag: ClassVar[str] = "event_type"
    event_type: tuple[str, ...] = Field(min_length=1)

    @field_validator("event_type", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_tuple(value)

    def holds(self, facts: Facts) -> bool:
        return facts.event_type in self.event_type

    def _compile(self) -> Check:
        types = self.event_type
        return lambda facts: facts.event_type in types

    def describe(self) -> str:
        return f"event type in {list(self.event_type)}"


class ChannelIs(_Condition):
    """``{channel: [web, mobile]}``: the channel the customer is on now."""

    tag: ClassVar[str] = "channel"
    channel: tuple[Channel, ...] = Field(min_length=1)

    @field_validator("channel", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_tuple(value)

    def holds(self, facts: Facts) -> bool:
        return facts.channel in self.channel

    def _compile(self) -> Check:
        channels = self.channel
        return lambda facts: facts.channel in channels

    def describe(self) -> str:
        return f"channel in {[str(channel) for channel in self.channel]}"


class HasOpenComplaint(_Condition):
    tag: ClassVar[str] = "has_open_complaint"
    has_open_complaint: bool

    def holds(self, facts: Facts) -> bool:
        return facts.has_open_complaint is self.has_open_complaint

    def _compile(self) -> Check:
        expected = self.has_open_complaint
        return lambda facts: facts.has_open_complaint is expected

    def describe(self) -> str:
        return "an open complaint" if self.has_open_complaint else "no open complaint"


class CategoryWindow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    category: tuple[str, ...] = Field(min_length=1)
    within: Duration

    @field_validator("category", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_tuple(value)


class PurchasedCategoryWithin(_Condition):
    """``{purchased_category_within: {category: phones, within: 30d}}``"""

    tag: ClassVar[str] = "purchased_category_within"
    purchased_category_within: CategoryWindow

    @cached_property
    def categories(self) -> frozenset[str]:
        return frozenset(self.purchased_category_within.category)

    def holds(self, facts: Facts) -> bool:
        return facts.purchased_within(self.categories, self.purchased_category_within.within)

    def _compile(self) -> Check:
        categories, within = self.categories, self.purchased_category_within.within
        return lambda facts: facts.purchased_within(categories, within)

    def describe(self) -> str:
        window = self.purchased_category_within
        return f"bought {list(window.category)} within {format_duration(window.within)}"


class PurchasedWithin(_Condition):
    """``{purchased_within: 7d}``: any purchase at all, e.g. for onboarding help."""

    tag: ClassVar[str] = "purchased_within"
    purchased_within: Duration

    def holds(self, facts: Facts) -> bool:
        return facts.purchased_within(None, self.purchased_within)

    def _compile(self) -> Check:
        within = self.purchased_within
        return lambda facts: facts.purchased_within(None, within)

    def describe(self) -> str:
        return f"bought anything within {format_duration(self.purchased_within)}"


class CartNotEmpty(_Condition):
    tag: ClassVar[str] = "cart_not_empty"
    cart_not_empty: bool

    def holds(self, facts: Facts) -> bool:
        return facts.cart_not_empty is self.cart_not_empty

    def _compile(self) -> Check:
        expected = self.cart_not_empty
        return lambda facts: facts.cart_not_empty is expected

    def describe(self) -> str:
        return "items in the cart" if self.cart_not_empty else "an empty cart"


_KINDS: tuple[type[_Condition], ...] = (
    AllOf,
    AnyOf,
    Not,
    SignalAtLeast,
    Frustrated,
    AttributeIs,
    EventTypeIs,
    ChannelIs,
    HasOpenComplaint,
    PurchasedCategoryWithin,
    PurchasedWithin,
    CartNotEmpty,
)
CONDITION_KEYS: tuple[str, ...] = tuple(kind.tag for kind in _KINDS)


def _condition_tag(value: Any) -> str | None:
    """Which condition a mapping is, by the one key that names it."""
    if isinstance(value, _Condition):
        return value.tag
    if isinstance(value, dict):
        for key in CONDITION_KEYS:
            if key in value:
                return key
    return None


Condition = Annotated[
    Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")]
    | Annotated[SignalAtLeast, Tag("signal")]
    | Annotated[Frustrated, Tag("frustrated")]
    | Annotated[AttributeIs, Tag("attribute")]
    | Annotated[EventTypeIs, Tag("event_type")]
    | Annotated[ChannelIs, Tag("channel")]
    | Annotated[HasOpenComplaint, Tag("has_open_complaint")]
    | Annotated[PurchasedCategoryWithin, Tag("purchased_category_within")]
    | Annotated[PurchasedWithin, Tag("purchased_within")]
    | Annotated[CartNotEmpty, Tag("cart_not_empty")],
    Discriminator(
        _condition_tag,
        custom_error_type="unknown_condition",
        custom_error_message="a condition is a mapping with one of the keys "
        + ", ".join(CONDITION_KEYS),
    ),
]

for _kind in (AllOf, AnyOf, Not):
    _kind.model_rebuild()


def all_hold(conditions: Sequence[Condition], facts: Facts) -> bool:
    """True when every condition holds (and for none): the catalogue's implicit ``all``."""
    return all(condition.holds(facts) for condition in conditions)
