"""The customer briefing: what a store associate or a contact-centre agent needs first.

The same systems online and in the store: when a known customer walks in or
calls, the person helping them sees the cross-channel story in one card. What
they left in the online cart and what they keep looking at; an open complaint
(then: fix it first, no pitch); what not to pitch (no consent, a category just
bought, an offer dismissed twice); the last contact and how it went; the
channel they use most. Built from the context and the contact history only,
which hold no raw personal data (intake hashes phone numbers and emails before
anything is stored), so the briefing cannot carry any either.

Pure; built for the winner of an action with ``briefing: true`` and for every
next-best-action answer, never on the hot path of other decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final

from libs.context.interests import top_interests
from libs.context.model import CustomerContext
from libs.context.summary import cart_items
from services.decision.domain.clock import format_day, format_moment
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import Policies
from services.decision.domain.rules import consent, fatigue, purchase
from services.decision.domain.templates import CategoryInfo, label, this_weeks_products

BRIEFING_INTERESTS: Final = 3
CONTACT_CHANNELS: Final = ("web", "mobile", "phone", "store")
# Interactions that are a conversation with a person, and how each one ended.
_PERSONAL_CONTACTS: Final = {"call_ended": "call", "associate_assist": "helped in store"}


def build_briefing(
    context: CustomerContext,
    history: ContactHistory,
    channel: str,
    now: datetime,
    policies: Policies,
    zone: tzinfo,
    categories: Mapping[str, CategoryInfo],
) -> dict[str, Any]:
    """The briefing as plain JSON (timestamps as ISO 8601 strings)."""
    fix_first = [
        {
            "case_id": case_id,
            "category": complaint.category,
            "severity": complaint.severity,
            "opened_at": complaint.opened_at.isoformat(),
        }
        for case_id, complaint in sorted(
            context.open_complaints.items(), key=lambda item: item[1].opened_at
        )
    ]
    do_not_pitch = _do_not_pitch(context, channel, now, policies, zone)
    interests = [
        {
            "category": interest.category,
            "label": label(interest.category, categories),
            "affinity": round(interest.score, 2),
            "products_this_week": this_weeks_products(context, interest.category, now),
        }
        for interest in top_interests(context, now, BRIEFING_INTERESTS)
    ]
    cart = [
        {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in item.items()
        }
        for item in cart_items(context)
    ]
    pitch_allowed = not fix_first and not any(
        item["reason"] == "no_consent" for item in do_not_pitch
    )
    return {
        "headline": _headline(fix_first, cart, interests, pitch_allowed),
        "fix_first": fix_first,
        "pitch": {
            "allowed": pitch_allowed,
            "why": _pitch_why(fix_first, do_not_pitch, pitch_allowed),
        },
        "do_not_pitch": do_not_pitch,
        "cart": cart,
        "interests": interests,
        "last_contact": _last_contact(context, history, zone, now),
        "preferred_channel": preferred_channel(context),
    }


def _do_not_pitch(
    context: CustomerContext, channel: str, now: datetime, policies: Policies, zone: tzinfo
) -> list[dict[str, str]]:
    """Each thing not to offer, with its reason code and a sentence."""
    items: list[dict[str, str]] = []
    purpose = consent.required_purpose("offer", policies.consent)
    if purpose is not None and not context.has_consent(purpose, channel):
        items.append(
            {
                "reason": "no_consent",
                "detail": f"no offers: {purpose} consent not given for {channel}",
            }
        )
    if context.open_complaints:
        items.append(
            {"reason": "open_complaint", "detail": "no offers until the complaint is resolved"}
        )
    recent = purchase.recent_purchases(context, policies.recent_purchase, now)
    for category, (bought_at, until) in sorted(recent.rested.items()):
        items.append(
            {
                "reason": "recent_purchase",
                "detail": f"nothing in {category}: bought {format_day(bought_at, zone)},"
                f" resting until {format_day(until, zone)}",
            }
        )
    for action_id in sorted(context.outcomes):
        rested_until = fatigue.fatigued_until(
            context.outcomes[action_id].recent_dismissals, policies.fatigue
        )
        if rested_until is not None and now < rested_until:
            items.append(
                {
                    "reason": "dismissal_fatigue",
                    "detail": f"not {action_id}: dismissed {policies.fatigue.dismissals} times",
                }
            )
    return items


def _headline(
    fix_first: list[dict[str, Any]],
    cart: list[dict[str, Any]],
    interests: list[dict[str, Any]],
    pitch_allowed: bool,
) -> str:
    parts: list[str] = []
    if fix_first:
        case = fix_first[0]
        about = f" ({case['category']})" if case["category"] else ""
        parts.append(f"open complaint {case['case_id']}{about}: fix first, no pitch")
    if cart:
        named = ", ".join(item["product_id"] for item in cart[-3:])
        parts.append(f"online cart: {named}")
    if interests:
        parts.append(f"interested in {', '.join(item['label'] for item in interests)}")
    if not fix_first and not pitch_allowed:
        parts.append("no offers (no consent)")
    return "; ".join(parts) if parts else "nothing known to act on"


def _pitch_why(
    fix_first: list[dict[str, Any]], do_not_pitch: list[dict[str, str]], allowed: bool
) -> str:
    if fix_first:
        return "an open complaint: fix it first, no pitch"
    if not allowed:
        return next(item["detail"] for item in do_not_pitch if item["reason"] == "no_consent")
    return "marketing consent given and no open complaint"


def _last_contact(
    context: CustomerContext, history: ContactHistory, zone: tzinfo, now: datetime
) -> dict[str, Any] | None:
    """The latest of: an action Concierge sent, a call with an agent, an associate's help."""
    latest: dict[str, Any] | None = None
    latest_at: datetime | None = None
    if history.sent:
        sent = history.sent[-1]
        latest_at = sent.at
        latest = {
            "channel": sent.channel,
            "what": f"{sent.kind} {sent.action_id}",
            "outcome": _action_outcome(context, sent.action_id, sent.at),
        }
    for channel, ring in context.recent.items():
        for item in reversed(ring):
            what = _PERSONAL_CONTACTS.get(item.type)
            if what is None:
                continue
            if latest_at is None or item.at > latest_at:
                latest_at = item.at
                disposition = item.attributes.get("disposition")
                latest = {
                    "channel": channel,
                    "what": what,
                    "outcome": str(disposition) if disposition is not None else "ended",
                }
            break
    if latest is None or latest_at is None:
        return None
    return {**latest, "at": latest_at.isoformat(), "when": format_moment(latest_at, now, zone)}


def _action_outcome(context: CustomerContext, action_id: str, sent_at: datetime) -> str:
    outcome = context.outcomes.get(action_id)
    if outcome is None:
        return "no response yet"
    if outcome.last_accepted_at is not None and outcome.last_accepted_at >= sent_at:
        return "accepted"
    if outcome.recent_dismissals and outcome.recent_dismissals[-1] >= sent_at:
        return "dismissed"
    if outcome.last_shown_at is not None and outcome.last_shown_at >= sent_at:
        return "shown, no answer"
    return "no response yet"


def preferred_channel(
    context: CustomerContext, within: timedelta = timedelta(days=30)
) -> str | None:
    """The channel the customer used most in their recent interactions (ties: the latest used).

    Inferred, not stated: the contract has no preference field. Only the four
    interaction channels count, within ``within`` of the last one seen.
    """
    since = context.last_seen - within
    best: tuple[int, datetime] | None = None
    chosen: str | None = None
    for channel in CONTACT_CHANNELS:
        ring = [item for item in context.recent.get(channel, ()) if item.at >= since]
        if not ring:
            continue
        rank = (len(ring), ring[-1].at)
        if best is None or rank > best:
            best, chosen = rank, channel
    return chosen
