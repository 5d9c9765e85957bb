"""No repeats: the same action is not sent to a customer again within its cooldown.

Service and routing actions are not capped (help is never rationed), but a
customer who keeps browsing after two failed checkouts must not get the same
chat invitation on every page view; the cooldown (per action, or per kind in
``policies.yaml``) is what prevents that.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.decision.domain.durations import humanize
from services.decision.domain.explain import COOLDOWN, Exclusion
from services.decision.domain.history import SentAction


def cooldown_exclusion(
    last: SentAction | None, cooldown: timedelta, now: datetime
) -> Exclusion | None:
    """``last``: the latest send of the action to this customer, if any."""
    if last is None or cooldown <= timedelta(0) or last.at <= now - cooldown:
        return None
    return Exclusion(
        COOLDOWN,
        f"sent {humanize(now - last.at)} ago on {last.channel}"
        f" (not repeated within {humanize(cooldown)})",
    )
