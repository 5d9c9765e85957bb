"""The read-only view conditions evaluate against: one event, one context, one instant.

This module is the one place that reads the context service's model for the
condition language, so a change there is adapted here and nowhere else.
Frustration findings and the yes/no facts are computed once per decision, when
the view is built; attribute answers on first use: one decision asks the same
questions of many candidates (``has_open_complaint``, ``profile.value_tier``),
and the view is immutable, so each is worked out once and then looked up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from libs.context.interests import Interest, top_interests
from libs.context.model import MAX_INTEREST_CATEGORIES, CartLine, CustomerContext, Purchase
from services.decision.domain.conditions import MISSING
from services.decision.domain.policies import FrustrationPolicy
from services.decision.domain.rules.frustration import Finding, find_frustrations
from services.decision.domain.templates import CategoryInfo, Template, slot_values

_NONE: frozenset[str] = frozenset()


class _Attributes(dict[str, Any]):
    """Attribute path -> its value (``MISSING`` when absent), resolved on first ask.

    A dict rather than a method: a compiled condition's repeated ask (a third of
    them, ``profile.value_tier`` above all) is then a plain subscript, no call.
    """

    # Set by ``DecisionFacts`` right after creation (no ``__init__``: one per decision).
    __slots__ = ("context", "event")
    context: CustomerContext
    event: Mapping[str, Any]

    def __missing__(self, path: str) -> Any:
        context = self.context
        root, _, key = path.partition(".")
        if root == "event":
            value = self.event.get(key, MISSING)
        elif root == "profile":
            value = getattr(context.profile, key, MISSING)
        elif root == "customer":
            value = _customer(context, key)
        elif root == "cart" and key == "items":
            value = len(context.cart)
        else:
            value = MISSING
        if value is None:
            value = MISSING
        self[path] = value
        return value


def _customer(context: CustomerContext, key: str) -> Any:
    if key == "provisional":
        return context.provisional
    if key == "last_channel":
        return context.last_channel
    if key == "open_complaints":
        return len(context.open_complaints)
    if key == "purchases":
        return len(context.purchases)
    if key == "interests":
        # Categories with an affinity stored; each fades below the floor within weeks.
        return len(context.interests)
    return MISSING


class DecisionFacts:
    """Implements :class:`services.decision.domain.conditions.Facts`."""

    __slots__ = (
        "_answers",
        "attributes",
        "cart_not_empty",
        "channel",
        "context",
        "event_type",
        "findings",
        "frustrated",
        "has_open_complaint",
        "now",
    )

    def __init__(
        self,
        context: CustomerContext,
        channel: str,
        now: datetime,
        frustration: FrustrationPolicy,
        event_type: str | None = None,
        event_attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self.context = context
        self.channel = channel
        self.now = now
        self.event_type = event_type
        self.attributes = attributes = _Attributes()
        attributes.context = context
        attributes.event = event_attributes or {}
        # Answered up front, not on first use: plain attributes cost a condition
        # one lookup where a method or property costs a call. Frustration is
        # worked out only when there are signals at all (most contexts have none),
        # and then nearly every decision asks (the kind-wide rule, the conditions).
        signals = context.signals
        findings = find_frustrations(signals, frustration, now) if signals else ()
        self.findings: tuple[Finding, ...] = findings
        self.frustrated = frozenset(item.signal for item in findings) if findings else _NONE
        self.has_open_complaint = bool(context.open_complaints)
        self.cart_not_empty = bool(context.cart)
        # Memoised signal counts, keyed by a tuple naming the question.
        self._answers: dict[object, Any] = {}

    def signal_count(self, signal: str, within: timedelta) -> int:
        key = ("signal_count", signal, within)
        count: int | None = self._answers.get(key)
        if count is None:
            count = self._answers[key] = self.context.signal_count(signal, within, self.now)
        return count

    # --- the rest of the condition language -------------------------------------------

    def attribute(self, path: str) -> Any:
        return self.attributes[path]

    def purchased_within(self, categories: frozenset[str] | None, within: timedelta) -> bool:
        # Not memoised: the catalogue's purchase conditions differ by window or
        # category, so a decision hardly ever asks the same one twice, and the
        # walk stops at the first purchase older than the window.
        now = self.now
        since = now - within
        for purchase in reversed(self.context.purchases):  # oldest first: newest at the end
            at = purchase.at
            if at < since:
                return False
            if at <= now and (categories is None or purchase.category in categories):
                return True
        return False

    # --- the slots templates bind to (``templates.py``): each worked out once -------

    def cart_lines_newest_first(self) -> tuple[tuple[str, CartLine | None], ...]:
        """Products in the cart, the last added first, with their line when known."""
        key = "cart_lines"
        lines: tuple[tuple[str, CartLine | None], ...] | None = self._answers.get(key)
        if lines is None:
            known = self.context.cart_lines
            lines = self._answers[key] = tuple(
                (product, known.get(product)) for product in reversed(self.context.cart)
            )
        return lines

    def interests_now(self) -> tuple[Interest, ...]:
        """Categories of interest by affinity now, strongest first."""
        key = "interests"
        interests: tuple[Interest, ...] | None = self._answers.get(key)
        if interests is None:
            interests = self._answers[key] = top_interests(
                self.context, self.now, MAX_INTEREST_CATEGORIES
            )
        return interests

    def slot_values(
        self, template: Template, categories: Mapping[str, CategoryInfo]
    ) -> tuple[Any, ...]:
        """``templates.slot_values``, once per decision per template settings."""
        by_stage = template.by_life_stage
        if by_stage is not None:  # its own propositions: worked out when it was loaded
            return by_stage.get(self.context.profile.life_stage, ())
        key = template.settings_key
        values: tuple[Any, ...] | None = self._answers.get(key)
        if values is None:
            values = self._answers[key] = slot_values(template, self, categories)
        return values

    def purchases_newest_first(self, within: timedelta) -> tuple[Purchase, ...]:
        """Purchases in ``(now - within, now]``, the newest first."""
        key = ("purchases", within)
        bought: tuple[Purchase, ...] | None = self._answers.get(key)
        if bought is None:
            since, now = self.now - within, self.now
            recent = []
            for purchase in reversed(self.context.purchases):
                if purchase.at < since:
                    break
                if purchase.at <= now:
                    recent.append(purchase)
            bought = self._answers[key] = tuple(recent)
        return bought
