"""Rule 4a, no bombardment: at most N offers per channel per day, M per day in all.

Counts come from the contact history (what Concierge decided), and the
history is updated inside the same pure call that decides, so a burst of
events handled in one batch cannot slip past a cap. The offer that reaches a
cap emits a ``frequency_cap`` suppression until the end of the customer's day,
so outbound tools stop too.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from libs.contract.common import Trigger
from libs.contract.suppression import SuppressionEvent, SuppressionReason
from services.decision.domain.clock import day_window
from services.decision.domain.explain import FREQUENCY_CAP, Exclusion
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import CapPolicy
from services.decision.domain.suppressions import Changes, activate

_NONE: dict[str, int] = {}  # no sends on any channel; never written to


def sent_today(
    history: ContactHistory, policy: CapPolicy, now: datetime, zone: tzinfo
) -> tuple[int, dict[str, int]]:
    """Counted sends in the customer's current day: in total and per channel."""
    sends = history.sent
    if not sends:
        return 0, {}
    start, end = day_window(now, zone)
    counted = policy.counted_kinds  # a model field: read once, not per send
    total = 0
    per_channel: dict[str, int] = {}
    for sent in sends:
        if sent.kind in counted and start <= sent.at < end:
            total += 1
            channel = sent.channel
            per_channel[channel] = per_channel.get(channel, 0) + 1
    return total, per_channel


def cap_exclusion(
    kind: str,
    channel: str,
    history: ContactHistory,
    policy: CapPolicy,
    now: datetime,
    zone: tzinfo,
) -> Exclusion | None:
    if kind not in policy.counted_kinds:
        return None
    # Most contact histories hold no send at all: no call to count nothing.
    total, per_channel = sent_today(history, policy, now, zone) if history.sent else (0, _NONE)
    on_channel = per_channel.get(channel, 0)
    if on_channel >= policy.offers_per_channel_per_day:
        return Exclusion(
            FREQUENCY_CAP,
            f"{on_channel} offers on {channel} today (cap {policy.offers_per_channel_per_day})",
        )
    if total >= policy.offers_per_day:
        return Exclusion(
            FREQUENCY_CAP, f"{total} offers today across channels (cap {policy.offers_per_day})"
        )
    return None


def after_send(
    history: ContactHistory,
    kind: str,
    channel: str,
    policy: CapPolicy,
    trigger: Trigger,
    now: datetime,
    zone: tzinfo,
) -> Changes:
    """Suppress the rest of the day on a channel, or everywhere, once a cap is reached."""
    if kind not in policy.counted_kinds:
        return history, ()
    total, per_channel = sent_today(history, policy, now, zone)
    channel_capped = per_channel.get(channel, 0) >= policy.offers_per_channel_per_day
    if not channel_capped and total < policy.offers_per_day:
        return history, ()  # the usual case: no cap reached, nothing to render
    start, end = day_window(now, zone)
    day = start.date().isoformat()
    kinds = [str(each) for each in policy.counted_kinds]
    emitted: list[SuppressionEvent] = []
    if channel_capped:
        history, events = activate(
            history,
            key=f"frequency_cap:{channel}:{day}",
            reason=SuppressionReason.frequency_cap,
            detail=(
                f"{per_channel[channel]} offers on {channel} today, the daily cap:"
                f" no more on {channel} until {end.strftime('%H:%M %Z')}"
            ),
            trigger=trigger,
            now=now,
            until=end,
            channels=[channel],
            kinds=kinds,
        )
        emitted.extend(events)
    if total >= policy.offers_per_day:
        history, events = activate(
            history,
            key=f"frequency_cap:all:{day}",
            reason=SuppressionReason.frequency_cap,
            detail=(
                f"{total} offers today across channels, the daily cap:"
                f" no more anywhere until {end.strftime('%H:%M %Z')}"
            ),
            trigger=trigger,
            now=now,
            until=end,
            kinds=kinds,
        )
        emitted.extend(events)
    return history, tuple(emitted)
