"""Rule 1, consent first.

An action whose kind needs a consent purpose (``offer`` -> ``marketing`` by
default) goes only to a customer who opted in for that purpose on the channel
it is delivered on. Withdrawing such a consent emits a ``consent_withdrawn``
suppression at once, scoped to the withdrawn channel (or all), and granting it
again lifts that suppression. Purposes that gate no kind (``personalization``
and ``service`` by default) emit nothing: there is nothing of ours to stop.

The context service orders consent statements by when they occurred; this rule
reads the resulting state, so a late, superseded withdrawal suppresses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache

from libs.context.model import CustomerContext
from libs.contract.common import ContactChannel, Trigger
from libs.contract.interaction import InteractionEvent
from libs.contract.suppression import SuppressionEvent, SuppressionReason
from services.decision.domain.explain import NO_CONSENT, Exclusion
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import ConsentPolicy
from services.decision.domain.suppressions import Changes, activate, lift_key

ALL = "all"
CONTACT_CHANNELS: tuple[str, ...] = tuple(channel.value for channel in ContactChannel)


def required_purpose(kind: str, policy: ConsentPolicy) -> str | None:
    # Keys are plain strings at run time (use_enum_values): look up with the str as is.
    # Annotated rather than ``cast``: asked on every decision, and ``cast`` is a call.
    purposes: Mapping[str, str] = policy.purpose_by_kind  # type: ignore[assignment]
    return purposes.get(kind)


def consent_exclusion(
    kind: str, channel: str, context: CustomerContext, policy: ConsentPolicy
) -> Exclusion | None:
    purpose = required_purpose(kind, policy)
    if purpose is None or context.has_consent(purpose, channel):
        return None
    return no_consent(purpose, channel, kind)


@cache
def no_consent(purpose: str, channel: str, kind: str) -> Exclusion:
    """A few dozen (purpose, channel, kind) triples: each exclusion is rendered once.

    What :func:`consent_exclusion` answers when ``purpose`` (the kind's) is not given
    on ``channel``; for a caller that already knows the purpose.
    """
    return Exclusion(NO_CONSENT, f"no {purpose} consent for {channel}: no {kind}s there")


def consent_key(purpose: str, channel: str | None) -> str:
    return f"consent_withdrawn:{purpose}:{channel or ALL}"


def on_consent_updated(
    event: InteractionEvent,
    context: CustomerContext,
    history: ContactHistory,
    policy: ConsentPolicy,
    trigger: Trigger,
    now: datetime,
) -> Changes:
    """Suppress at once on withdrawal, lift on a grant that restores consent."""
    attributes = event.attributes
    purpose = attributes.get("purpose")
    granted = attributes.get("granted")
    channel = attributes.get("channel")
    if not isinstance(purpose, str) or not isinstance(granted, bool):
        return history, ()
    kinds = sorted(str(kind) for kind, needs in policy.purpose_by_kind.items() if needs == purpose)
    if not kinds or (channel is not None and channel not in CONTACT_CHANNELS):
        return history, ()
    step = _Step(context, history, purpose, kinds, trigger, now)
    if granted:
        return step.grant(channel)
    return step.withdraw(channel)


class _Step:
    """One consent statement's effect on the suppressions of one purpose."""

    def __init__(
        self,
        context: CustomerContext,
        history: ContactHistory,
        purpose: str,
        kinds: list[str],
        trigger: Trigger,
        now: datetime,
    ) -> None:
        self.context = context
        self.history = history
        self.purpose = purpose
        self.kinds = kinds
        self.trigger = trigger
        self.now = now
        self.emitted: list[SuppressionEvent] = []

    def _granted(self, channel: str) -> bool:
        return self.context.has_consent(self.purpose, channel)

    def _activate(self, channel: str | None) -> None:
        where = channel or "all channels"
        what = " or ".join(f"{kind}s" for kind in self.kinds)
        self.history, events = activate(
            self.history,
            key=consent_key(self.purpose, channel),
            reason=SuppressionReason.consent_withdrawn,
            detail=f"{self.purpose} consent withdrawn for {where}: no {what} there",
            trigger=self.trigger,
            now=self.now,
            channels=() if channel is None else (channel,),
            kinds=self.kinds,
        )
        self.emitted.extend(events)

    def _lift(self, channel: str | None) -> None:
        where = channel or "all channels"
        self.history, events = lift_key(
            self.history,
            consent_key(self.purpose, channel),
            detail=f"{self.purpose} consent granted again for {where}",
            trigger=self.trigger,
            now=self.now,
        )
        self.emitted.extend(events)

    def _result(self) -> Changes:
        return self.history, tuple(self.emitted)

    def withdraw(self, channel: str | None) -> Changes:
        if channel is not None:
            all_active = self.history.suppression_for(consent_key(self.purpose, None))
            if not self._granted(channel) and all_active is None:
                self._activate(channel)
            return self._result()
        still_granted = [each for each in CONTACT_CHANNELS if self._granted(each)]
        if still_granted:
            # A newer per-channel grant outlives this withdrawal: suppress the rest only.
            for each in CONTACT_CHANNELS:
                if each not in still_granted:
                    self._activate(each)
            return self._result()
        for each in CONTACT_CHANNELS:  # superseded by the purpose-wide suppression
            self._lift(each)
        self._activate(None)
        return self._result()

    def grant(self, channel: str | None) -> Changes:
        channels = CONTACT_CHANNELS if channel is None else (channel,)
        for each in channels:
            if self._granted(each):
                self._lift(each)
        if self.history.suppression_for(consent_key(self.purpose, None)) is not None:
            denied = [each for each in CONTACT_CHANNELS if not self._granted(each)]
            if len(denied) < len(CONTACT_CHANNELS):
                # Narrow the purpose-wide suppression to the channels still withdrawn.
                self._lift(None)
                for each in denied:
                    self._activate(each)
        return self._result()
