"""The parameters of every decision rule (``deploy/config/policies.yaml``).

Each section belongs to one rule in ``rules/``; the defaults here are the
contract's defaults, so an empty file still yields the promised behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.context.model import SignalName
from libs.contract.common import ActionKind
from services.decision.domain.durations import Duration

ACTION_KINDS: tuple[ActionKind, ...] = tuple(ActionKind)
Purpose = Literal["marketing", "personalization", "service"]


class _Section(BaseModel):
    # Kinds are kept as plain strings: hot-path lookups hash them, and an enum
    # member hashes in Python while a str hashes in C.
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=True)


def _offers_need_marketing() -> dict[ActionKind, Purpose]:
    return {ActionKind.offer: "marketing"}


class ConsentPolicy(_Section):
    # Kinds not listed need no consent: service and routing help the customer
    # with something they are already doing, they are not marketing.
    purpose_by_kind: dict[ActionKind, Purpose] = Field(default_factory=_offers_need_marketing)


class ComplaintPolicy(_Section):
    # What an open complaint holds back, on every channel, until the last one is resolved.
    withhold_kinds: tuple[ActionKind, ...] = (ActionKind.offer,)


class SignalThreshold(_Section):
    at_least: int = Field(ge=1)
    within: Duration


def _default_thresholds() -> dict[SignalName, SignalThreshold]:
    return {
        "failed_checkout": SignalThreshold(at_least=2, within=timedelta(minutes=30)),
        "abandoned_call": SignalThreshold(at_least=1, within=timedelta(hours=24)),
        "empty_search": SignalThreshold(at_least=3, within=timedelta(minutes=10)),
        "help_page_loop": SignalThreshold(at_least=1, within=timedelta(minutes=30)),
        "ivr_loop": SignalThreshold(at_least=1, within=timedelta(minutes=30)),
    }


class FrustrationPolicy(_Section):
    signals: dict[SignalName, SignalThreshold] = Field(default_factory=_default_thresholds)
    # How long after its last signal a frustration is still answered, on
    # whatever channel the customer uses next (a call after a failed checkout).
    carry_over: Duration = timedelta(hours=2)
    # While frustrated, only these kinds may be chosen: help first, sales later.
    answer_kinds: tuple[ActionKind, ...] = (ActionKind.service, ActionKind.routing)


class CapPolicy(_Section):
    offers_per_channel_per_day: int = Field(default=2, ge=0)
    offers_per_day: int = Field(default=3, ge=0)
    counted_kinds: tuple[ActionKind, ...] = (ActionKind.offer,)
    # The day is a calendar day: in the customer's profile timezone when it is
    # known and valid, else in this one.
    timezone: str = "UTC"
    use_customer_timezone: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown timezone {name!r}") from error
        return name


class FatiguePolicy(_Section):
    dismissals: int = Field(default=2, ge=1)
    within: Duration = timedelta(days=30)
    rest: Duration = timedelta(days=30)


class RecentPurchasePolicy(_Section):
    category_rest: Duration = timedelta(days=14)
    never_reoffer_product: bool = True


def _per_kind(**values: timedelta) -> dict[ActionKind, timedelta]:
    return {kind: values[kind.value] for kind in ACTION_KINDS}


class ActionDefaults(_Section):
    ttl: dict[ActionKind, Duration] = Field(
        default_factory=lambda: _per_kind(
            service=timedelta(minutes=30),
            routing=timedelta(minutes=10),
            offer=timedelta(hours=24),
            info=timedelta(hours=4),
        )
    )
    # The same action is not repeated to a customer sooner than this.
    cooldown: dict[ActionKind, Duration] = Field(
        default_factory=lambda: _per_kind(
            service=timedelta(minutes=30),
            routing=timedelta(minutes=10),
            offer=timedelta(hours=24),
            info=timedelta(hours=24),
        )
    )

    @field_validator("ttl", "cooldown")
    @classmethod
    def _every_kind(cls, value: dict[ActionKind, timedelta]) -> dict[ActionKind, timedelta]:
        missing = [kind.value for kind in ACTION_KINDS if kind not in value]
        if missing:
            raise ValueError(f"missing a value for {', '.join(missing)}")
        return value


class ArbitrationPolicy(_Section):
    # Scores at or below this are not worth interrupting anyone for.
    min_score: float = Field(default=0.0, ge=0.0)


class HistoryPolicy(_Section):
    # Redeliveries come soon after the original; this many ids per customer is plenty.
    max_event_ids: int = Field(default=256, ge=1)


class Policies(_Section):
    consent: ConsentPolicy = ConsentPolicy()
    complaints: ComplaintPolicy = ComplaintPolicy()
    frustration: FrustrationPolicy = FrustrationPolicy()
    caps: CapPolicy = CapPolicy()
    fatigue: FatiguePolicy = FatiguePolicy()
    recent_purchase: RecentPurchasePolicy = RecentPurchasePolicy()
    defaults: ActionDefaults = ActionDefaults()
    arbitration: ArbitrationPolicy = ArbitrationPolicy()
    history: HistoryPolicy = HistoryPolicy()
    # Set by the loader from the content of both files; never written by hand.
    policy_version: str = "unversioned"

    @cached_property
    def longest_default_cooldown(self) -> timedelta:
        """Computed once: the contact history must remember sends at least this long."""
        return max(self.defaults.cooldown.values(), default=timedelta(0))

    @cached_property
    def kinds_ruled_by_kind(self) -> frozenset[str]:
        """Kinds that a kind-wide rule (consent, complaints, frustration, caps) may rule out.

        With the default policies only offers and info: service and routing need no
        consent, are not withheld for complaints, answer frustration and are not
        capped, so arbitration skips those four rules for them outright.
        """
        return frozenset(
            kind.value
            for kind in ACTION_KINDS
            if kind in self.consent.purpose_by_kind
            or kind in self.complaints.withhold_kinds
            or kind not in self.frustration.answer_kinds
            or kind in self.caps.counted_kinds
        )

    @cached_property
    def kind_rules(self) -> Mapping[str, tuple[str | None, bool, bool, bool]]:
        """Per kind a kind-wide rule may rule out (``kinds_ruled_by_kind``): the consent
        purpose it needs (None: none), whether open complaints withhold it, whether it
        is exempt from frustration (an answer kind), and whether caps count it.

        Read once per kind per decision, so arbitration calls only the rules that can
        rule the kind out, without reading four policy sections each time.
        """
        purposes: Mapping[str, str] = self.consent.purpose_by_kind  # type: ignore[assignment]
        return {
            kind: (
                purposes.get(kind),
                kind in self.complaints.withhold_kinds,
                kind in self.frustration.answer_kinds,
                kind in self.caps.counted_kinds,
            )
            for kind in self.kinds_ruled_by_kind
        }

    @cached_property
    def kinds_free_of_kind_rules(self) -> Mapping[str, None]:
        """The other kinds, each mapped to None (nothing kind-wide rules it out).

        Arbitration starts each decision's per-kind answers from a copy of this,
        so service and routing candidates never ask the kind-wide rules at all.
        """
        ruled = self.kinds_ruled_by_kind
        return {kind.value: None for kind in ACTION_KINDS if kind.value not in ruled}
