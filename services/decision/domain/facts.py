"""The read-only view conditions evaluate against: one event, one context, one instant.

This module is the one place that reads the context service's model for the
condition language, so a change there is adapted here and nowhere else.
Frustration findings are computed at most once per decision, on first use, and
so is every other answer: one decision asks the same questions of many
candidates (``has_open_complaint``, ``profile.value_tier``, a purchase window),
and the view is immutable, so each is worked out once and then looked up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from services.context.domain.model import CustomerContext
from services.decision.domain.conditions import MISSING
from services.decision.domain.policies import FrustrationPolicy
from services.decision.domain.rules.frustration import Finding, find_frustrations


class DecisionFacts:
    """Implements :class:`services.decision.domain.conditions.Facts`."""

    __slots__ = (
        "_answers",
        "_attributes",
        "_findings",
        "_frustrated",
        "_frustration",
        "channel",
        "context",
        "event_type",
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
        self._attributes = event_attributes if event_attributes is not None else {}
        self._frustration = frustration
        self._findings: tuple[Finding, ...] | None = None
        self._frustrated: frozenset[str] | None = None
        # Memoised answers keyed by the question (attribute path, or a tuple
        # naming the method and its arguments): all are pure given the view.
        self._answers: dict[object, Any] = {}

    # --- frustration ---------------------------------------------------------------

    @property
    def findings(self) -> tuple[Finding, ...]:
        if self._findings is None:
            self._findings = find_frustrations(self.context.signals, self._frustration, self.now)
        return self._findings

    def frustrated_by(self, signals: frozenset[str]) -> bool:
        frustrated = self._frustrated
        if frustrated is None:
            frustrated = self._frustrated = frozenset(item.signal for item in self.findings)
        return not frustrated.isdisjoint(signals)

    def signal_count(self, signal: str, within: timedelta) -> int:
        key = ("signal_count", signal, within)
        count: int | None = self._answers.get(key)
        if count is None:
            count = self._answers[key] = self.context.signal_count(signal, within, self.now)
        return count

    # --- the rest of the condition language -------------------------------------------

    def attribute(self, path: str) -> Any:
        answers = self._answers
        if path in answers:
            return answers[path]
        value = answers[path] = self._attribute(path)
        return value

    def _attribute(self, path: str) -> Any:
        root, _, key = path.partition(".")
        if root == "event":
            value = self._attributes.get(key, MISSING)
        elif root == "profile":
            value = getattr(self.context.profile, key, MISSING)
        elif root == "customer":
            value = self._customer(key)
        elif root == "cart" and key == "items":
            value = len(self.context.cart)
        else:
            value = MISSING
        return MISSING if value is None else value

    def _customer(self, key: str) -> Any:
        context = self.context
        if key == "provisional":
            return context.provisional
        if key == "last_channel":
            return context.last_channel
        if key == "open_complaints":
            return len(context.open_complaints)
        if key == "purchases":
            return len(context.purchases)
        return MISSING

    def has_open_complaint(self) -> bool:
        return bool(self.context.open_complaints)

    def purchased_within(self, categories: frozenset[str] | None, within: timedelta) -> bool:
        if not self.context.purchases:
            return False
        key = ("purchased_within", categories, within)
        answer: bool | None = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = self._purchased_within(categories, within)
        return answer

    def _purchased_within(self, categories: frozenset[str] | None, within: timedelta) -> bool:
        since = self.now - within
        for purchase in reversed(self.context.purchases):  # oldest first: newest at the end
            if purchase.at < since:
                return False
            if purchase.at <= self.now and (categories is None or purchase.category in categories):
                return True
        return False

    def cart_not_empty(self) -> bool:
        return bool(self.context.cart)
