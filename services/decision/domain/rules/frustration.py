"""Rule 3, frustration gets help: a customer who just gave up is helped, not sold to.

A signal (failed checkout, abandoned call, ...) frustrates when ``at_least``
occurrences fall within ``within`` of each other, and the frustration stays
actionable for ``carry_over`` after its last occurrence, on whatever channel
the customer uses next: a call twenty minutes after two failed web checkouts is
still routed to the priority queue, with that context in the payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from libs.context.model import CustomerContext
from services.decision.domain.clock import utc_text
from services.decision.domain.durations import humanize
from services.decision.domain.explain import Exclusion
from services.decision.domain.policies import FrustrationPolicy

# The interaction that produces each signal, to tell on which channel it happened.
SOURCE_EVENT_TYPES: Mapping[str, frozenset[str]] = {
    "failed_checkout": frozenset({"checkout_failed"}),
    "abandoned_call": frozenset({"call_abandoned"}),
    "empty_search": frozenset({"search"}),
    "help_page_loop": frozenset({"page_view", "screen_view"}),
    "ivr_loop": frozenset({"ivr_step"}),
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One active frustration: the burst that crossed its threshold."""

    signal: str
    count: int
    first_at: datetime
    last_at: datetime


def find_frustrations(
    signals: Mapping[str, Sequence[datetime]], policy: FrustrationPolicy, now: datetime
) -> tuple[Finding, ...]:
    """Active frustrations, most recent first; signals without a threshold are ignored."""
    findings: list[Finding] = []
    if not signals:
        return ()
    for signal, threshold in policy.signals.items():
        times = signals.get(signal)
        if not times:
            continue
        if times[-1] > now:
            times = [at for at in times if at <= now]
        finding = _latest_burst(signal, times, threshold.at_least, threshold.within, policy, now)
        if finding is not None:
            findings.append(finding)
    if len(findings) > 1:  # usually one: no key function to build and call then
        findings.sort(key=lambda item: (item.last_at, item.signal), reverse=True)
    return tuple(findings)


def _latest_burst(
    signal: str,
    times: Sequence[datetime],
    at_least: int,
    within: timedelta,
    policy: FrustrationPolicy,
    now: datetime,
) -> Finding | None:
    oldest_last = now - policy.carry_over
    for end in range(len(times) - 1, at_least - 2, -1):
        last = times[end]
        if last < oldest_last:
            return None  # older bursts ended even earlier
        start = end - at_least + 1
        if last - times[start] <= within:
            # Count every occurrence in the burst's window, not just the threshold.
            first_index = start
            while first_index > 0 and last - times[first_index - 1] <= within:
                first_index -= 1
            return Finding(signal, end - first_index + 1, times[first_index], last)
    return None


def frustration_exclusion(
    kind: str, findings: Sequence[Finding], policy: FrustrationPolicy
) -> Exclusion | None:
    """While frustrated, only the answer kinds (service, routing) may be chosen."""
    if not findings or kind in policy.answer_kinds:
        return None
    return Exclusion("frustration", f"help first: {describe(findings[0])}")


_COUNTED = {1: "once", 2: "twice"}
# Younger than this, a signal is "now" and its age is not worth saying.
_RECENTLY = timedelta(minutes=1)


def _times(count: int) -> str:
    return _COUNTED.get(count, f"{count} times")


def describe(finding: Finding, now: datetime | None = None, channel: str | None = None) -> str:
    """``"checkout failed twice in 4 minutes"``; where and how long ago when it matters."""
    span = humanize(finding.last_at - finding.first_at)
    count = finding.count
    text = {
        "failed_checkout": f"checkout failed {_times(count)}",
        "abandoned_call": f"hung up {_times(count)} before reaching anyone",
        "empty_search": f"{count} searches found nothing",
        "help_page_loop": "went round the help pages",
        "ivr_loop": "went round the phone menu",
    }.get(finding.signal, f"{finding.signal} {_times(count)}")
    if count > 1:
        text += f" in {span}"
    where = []
    if channel is not None:
        where.append(f"on {channel}")
    if now is not None and now - finding.last_at >= _RECENTLY:
        where.append(f"{humanize(now - finding.last_at)} ago")
    return f"{text} ({', '.join(where)})" if where else text


def signal_channel(context: CustomerContext, finding: Finding) -> str | None:
    """The channel of the finding's last occurrence, from the recent interactions."""
    sources = SOURCE_EVENT_TYPES.get(finding.signal, frozenset())
    for channel, interactions in context.recent.items():
        for interaction in reversed(interactions):
            if interaction.at == finding.last_at and interaction.type in sources:
                return channel
    return None


def payload_entry(finding: Finding, channel: str | None, detail: str) -> dict[str, Any]:
    """What an agent or associate needs to pick up where the customer gave up."""
    return {
        "signal": finding.signal,
        "count": finding.count,
        "first_at": utc_text(finding.first_at),
        "last_at": utc_text(finding.last_at),
        "channel": channel,
        "detail": detail,
    }
