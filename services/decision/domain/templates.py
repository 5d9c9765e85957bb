"""Catalogue entries as templates over a slot of the context: personal, not generic.

A template names a slot (``template: {slot: cart_product}``); at decision time
it binds to the concrete values the customer's context holds: the product left
in the cart, the category they keep looking at, the accessory category of what
they just bought, the proposition for their life stage. Each binding is a
candidate of its own, with a concrete action id (``<template id>:<value>``),
category and product, so consent, complaints, caps, the purchase rest,
dismissal fatigue, cooldowns and suppressions apply to exactly what would be
offered. Everything here is declarative data validated at start-up; binding is
a fixed function per slot over the facts view.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.context.model import MAX_INTEREST_CATEGORIES, CustomerContext
from services.decision.domain.clock import format_day
from services.decision.domain.durations import Duration, humanize

if TYPE_CHECKING:
    from services.decision.domain.facts import DecisionFacts

Slot = Literal["cart_product", "interest_category", "purchase_accessory", "life_stage"]
SLOT_NEEDS: Final[Mapping[str, str]] = {
    "cart_product": "a product left in the cart",
    "interest_category": "a category of interest",
    "purchase_accessory": "a recent purchase with an accessory category",
    "life_stage": "a life stage with a proposition",
}
THIS_WEEK: Final = timedelta(days=7)
_MAX_ID = 128  # the contract's identifier length


class CategoryInfo(BaseModel):
    """``categories.<name>`` in the catalogue: how to say it, what goes with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    label: str | None = Field(default=None, min_length=1)
    """Plural noun for reasons ("TVs"); the category name with spaces otherwise."""
    accessories: tuple[str, ...] = ()
    """Categories that go with something bought in this one (``purchase_accessory``)."""


class Proposition(BaseModel):
    """What a ``life_stage`` template offers at one life stage."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    category: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1)
    """Why it fits this stage of life, as a person would say it."""
    product_id: str | None = Field(default=None, min_length=1, max_length=128)
    payload: dict[str, Any] = Field(default_factory=dict)


# Template settings seen so far, each kept once (``Template.settings_key``).
_INTERNED_SETTINGS: dict[tuple[Any, ...], tuple[Any, ...]] = {}


class Template(BaseModel):
    """``template:`` of a catalogue entry."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    slot: Slot
    categories: tuple[str, ...] = ()
    """Only bind to these categories (empty: any)."""
    min_affinity: float | None = Field(default=None, gt=0)
    """``interest_category``: the least affinity worth acting on (default 1.5: two
    looks within the last few days; one look, or two a week ago, is not enough)."""
    within: Duration | None = None
    """``purchase_accessory``: how recent the purchase must be (default 30d)."""
    propositions: dict[str, Proposition] = Field(default_factory=dict)
    """``life_stage``: life stage -> proposition (required for that slot, only there)."""
    max_bindings: int = Field(default=3, ge=1, le=MAX_INTEREST_CATEGORIES)
    """Concrete candidates tried, strongest first: the next one when the first is ruled out."""

    @cached_property
    def settings_key(self) -> int:
        """What binding depends on besides the context: equal keys bind to equal values.

        An int, the identity of the settings interned: a decision looks it up for
        every template candidate, and a tuple of the settings is hashed anew on
        each lookup. A life-stage template is its own key (its propositions are
        its own).
        """
        if self.slot == "life_stage":
            return id(self)
        settings = (self.slot, self.categories, self.min_affinity, self.within, self.max_bindings)
        return id(_INTERNED_SETTINGS.setdefault(settings, settings))

    @cached_property
    def by_life_stage(self) -> Mapping[str | None, tuple[SlotValue, ...]] | None:
        """``life_stage`` templates: life stage -> what the slot holds at it, worked out
        once (it depends on the template alone); None for the other slots."""
        if self.slot != "life_stage":
            return None
        allowed = self.categories
        return {
            stage: ((stage, proposition.category, proposition.product_id, proposition),)
            for stage, proposition in self.propositions.items()
            if not allowed or proposition.category in allowed
        }

    @model_validator(mode="after")
    def _fits_the_slot(self) -> Template:
        misplaced = [
            name
            for name, slot, given in (
                ("min_affinity", "interest_category", self.min_affinity is not None),
                ("within", "purchase_accessory", self.within is not None),
                ("propositions", "life_stage", bool(self.propositions)),
            )
            if given and self.slot != slot
        ]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} does not apply to slot {self.slot}")
        if self.slot == "life_stage" and not self.propositions:
            raise ValueError("slot life_stage needs propositions: {<life stage>: {...}}")
        return self

    @property
    def affinity_needed(self) -> float:
        return 1.5 if self.min_affinity is None else self.min_affinity

    @property
    def purchase_window(self) -> timedelta:
        return timedelta(days=30) if self.within is None else self.within


class Binding(NamedTuple):
    """One concrete candidate of a template. Reasons are rendered for the winner only."""

    action_id: str
    category: str
    product_id: str | None
    value: str
    """The slot's value: the product, the category or the life stage."""
    evidence: Any
    """What the reason quotes (per slot: a cart line, an interest, a purchase, a proposition)."""


def concrete_id(template_id: str, value: str) -> str:
    """``<template id>:<value>``; a value too long for the contract's 128 is hashed."""
    text = f"{template_id}:{value}"
    if len(text) <= _MAX_ID:  # nearly always
        return text
    digest = hashlib.blake2b(value.encode(), digest_size=8).hexdigest()
    return f"{template_id}:{digest}"


SlotValue: TypeAlias = "tuple[str, str | None, str | None, Any]"
"""A slot's value before it is bound to a template: value, category (None: a cart line
that named none), product, evidence."""


def slot_values(
    template: Template,
    facts: DecisionFacts,
    categories: Mapping[str, CategoryInfo],
) -> tuple[SlotValue, ...]:
    """What the template's slot holds for this customer now, strongest first.

    Depends on the template's settings, not its id: ``DecisionFacts.slot_values``
    works it out once per decision for every template with the same settings.
    """
    slot = template.slot
    allowed = template.categories
    limit = template.max_bindings
    found: list[SlotValue] = []
    if slot == "cart_product":
        for product_id, line in facts.cart_lines_newest_first():
            category = line.category if line is not None else None
            if allowed and category not in allowed:
                continue
            found.append((product_id, category, product_id, line))
            if len(found) == limit:
                break
    elif slot == "interest_category":
        needed = template.affinity_needed
        for interest in facts.interests_now():
            if interest.score < needed:
                break  # strongest first: the rest are weaker
            if allowed and interest.category not in allowed:
                continue
            found.append((interest.category, interest.category, None, interest))
            if len(found) == limit:
                break
    elif slot == "purchase_accessory":
        seen: set[str] = set()
        for bought in facts.purchases_newest_first(template.purchase_window):
            info = categories.get(bought.category)
            for accessory in () if info is None else info.accessories:
                if accessory in seen or (allowed and accessory not in allowed):
                    continue
                seen.add(accessory)
                found.append((accessory, accessory, None, bought))
                if len(found) == limit:
                    return tuple(found)
    else:  # life_stage
        by_stage = template.by_life_stage
        assert by_stage is not None
        return by_stage.get(facts.context.profile.life_stage, ())
    return tuple(found)


def label(category: str, categories: Mapping[str, CategoryInfo]) -> str:
    info = categories.get(category)
    if info is not None and info.label:
        return info.label
    return category.replace("_", " ")


def describe(
    template: Template,
    binding: Binding,
    facts: DecisionFacts,
    categories: Mapping[str, CategoryInfo],
    zone: tzinfo,
) -> str:
    """Which interest or profile fact chose this binding, as a person would say it."""
    slot, now = template.slot, facts.now
    if slot == "cart_product":
        line = binding.evidence
        named = f"{binding.product_id} ({label(binding.category, categories)})"
        if line is None:
            return f"you left {named} in your cart"
        return f"you left {named} in your cart {humanize(now - line.added_at)} ago"
    if slot == "interest_category":
        interest = binding.evidence
        name = label(binding.category, categories)
        recent = this_weeks_products(facts.context, binding.category, now)
        if len(recent) > 1:
            return f"you looked at {len(recent)} {name} this week"
        if recent:
            return f"you looked at {recent[0]} ({name}) this week"
        visits = "once" if interest.views == 1 else f"{interest.views} times"
        return f"you looked at {name} {visits} lately"
    if slot == "purchase_accessory":
        bought = binding.evidence
        return (
            f"you bought {bought.product_id} ({label(bought.category, categories)})"
            f" on {format_day(bought.at, zone)}: {label(binding.category, categories)}"
            " to go with it"
        )
    proposition = binding.evidence
    return f"for your stage of life ({binding.value.replace('_', ' ')}): {proposition.reason}"


def this_weeks_products(context: CustomerContext, category: str, now: datetime) -> list[str]:
    """Products of interest in ``category`` touched in the week to ``now``, latest first."""
    since = now - THIS_WEEK
    return [
        item.product_id
        for item in reversed(context.products_of_interest)
        if item.category == category and since <= item.at <= now
    ]


def subject(
    template: Template, template_id: str, binding: Binding, facts: DecisionFacts
) -> dict[str, Any]:
    """``payload.subject``: what the action is about, for the channel to render."""
    about: dict[str, Any] = {
        "template": template_id,
        "slot": template.slot,
        "category": binding.category,
    }
    if binding.product_id is not None:
        about["product_id"] = binding.product_id
    if template.slot == "interest_category":
        about["products"] = this_weeks_products(facts.context, binding.category, facts.now)
    elif template.slot == "purchase_accessory":
        about["for_product"] = binding.evidence.product_id
        about["for_category"] = binding.evidence.category
    elif template.slot == "life_stage":
        about["life_stage"] = binding.value
    return about


def subject_key(template: Template, binding: Binding, facts: DecisionFacts) -> tuple[Any, ...]:
    """Everything ``bound_payload`` depends on besides the action: equal keys, equal payloads."""
    slot = template.slot
    extra: Any = None
    if slot == "interest_category":
        extra = tuple(this_weeks_products(facts.context, binding.category, facts.now))
    elif slot == "purchase_accessory":
        extra = (binding.evidence.product_id, binding.evidence.category)
    return (binding.action_id, binding.category, binding.product_id, extra)


def bound_payload(
    template: Template,
    template_id: str,
    payload: Mapping[str, Any],
    binding: Binding,
    facts: DecisionFacts,
) -> dict[str, Any]:
    """The catalogue payload, the proposition's, the concrete product and the subject."""
    merged = dict(payload)
    if template.slot == "life_stage":
        merged.update(binding.evidence.payload)
    if binding.product_id is not None:
        merged.setdefault("product_id", binding.product_id)
    merged["subject"] = subject(template, template_id, binding, facts)
    return merged
