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

import bisect
import operator
from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Final

from libs.context.interests import Interest, top_interests
from libs.context.model import CustomerContext
from services.decision.domain.clock import format_day, moment_texts, utc_text
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import Policies
from services.decision.domain.rules import complaints, consent, fatigue
from services.decision.domain.templates import THIS_WEEK, CategoryInfo, label

BRIEFING_INTERESTS: Final = 3
BRIEFING_CART_ITEMS: Final = 5  # what a person can take in at a glance; the context has all
CONTACT_CHANNELS: Final = ("web", "mobile", "phone", "store")
# Interactions that are a conversation with a person, and how each one ended.
_PERSONAL_CONTACTS: Final = {"call_ended": "call", "associate_assist": "helped in store"}
_PERSON_CHANNELS: Final = ("phone", "store")  # where those interactions happen
_AT: Final = operator.attrgetter("at")  # a C-level key, asked about five times per ring


def build_briefing(
    context: CustomerContext,
    history: ContactHistory,
    channel: str,
    now: datetime,
    policies: Policies,
    zone: tzinfo,
    categories: Mapping[str, CategoryInfo],
    interests_now: tuple[Interest, ...] | None = None,
) -> dict[str, Any]:
    """The briefing as plain JSON (timestamps as ISO 8601 strings).

    ``interests_now``: ``top_interests(context, now, ...)`` when the caller has it
    (the decision's facts view); worked out here otherwise.
    """
    fix_first = complaints.open_complaint_entries(context)
    do_not_pitch = _do_not_pitch(context, channel, now, policies, zone)
    strongest = (
        top_interests(context, now, BRIEFING_INTERESTS)
        if interests_now is None
        else interests_now[:BRIEFING_INTERESTS]
    )
    this_week = _products_this_week(context, now) if strongest else {}
    interests = [
        {
            "category": interest.category,
            "label": label(interest.category, categories),
            "affinity": round(interest.score, 2),
            "products_this_week": this_week.get(interest.category, []),
        }
        for interest in strongest
    ]
    cart = _cart(context)
    cart_size = len(context.cart)
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
        "cart_size": cart_size,
        "interests": interests,
        "last_contact": _last_contact(context, history, zone, now),
        "preferred_channel": preferred_channel(context),
    }


def _products_this_week(context: CustomerContext, now: datetime) -> dict[str, list[str]]:
    """Category -> products of it touched in the week to ``now``, latest first (one pass)."""
    since = now - THIS_WEEK
    found: dict[str, list[str]] = {}
    for item in reversed(context.products_of_interest):
        if item.category is not None and since <= item.at <= now:
            found.setdefault(item.category, []).append(item.product_id)
    return found


def _cart(context: CustomerContext) -> list[dict[str, Any]]:
    """The last ``BRIEFING_CART_ITEMS`` products added to the cart, in the order added,
    with what ``cart_add`` said of each (``cart_size`` says how many there are)."""
    lines = context.cart_lines
    cart: list[dict[str, Any]] = []
    for product_id in context.cart[-BRIEFING_CART_ITEMS:]:
        item: dict[str, Any] = {"product_id": product_id}
        line = lines.get(product_id)
        if line is not None:
            if line.category is not None:
                item["category"] = line.category
            if line.price is not None:
                item["price"] = line.price
            item["added_at"] = utc_text(line.added_at)
        cart.append(item)
    return cart


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
    if context.purchases:
        for category, (bought_at, until) in sorted(_resting(context, policies, now).items()):
            items.append(
                {
                    "reason": "recent_purchase",
                    "detail": f"nothing in {category}: bought {_day(bought_at, zone)},"
                    f" resting until {_day(until, zone)}",
                }
            )
    need = policies.fatigue.dismissals
    fatigued = []
    for action_id, outcome in context.outcomes.items():
        if len(outcome.recent_dismissals) < need:
            continue  # most actions: never dismissed that often
        rested_until = fatigue.fatigued_until(outcome.recent_dismissals, policies.fatigue)
        if rested_until is not None and now < rested_until:
            fatigued.append(action_id)
    for action_id in sorted(fatigued):
        items.append(
            {"reason": "dismissal_fatigue", "detail": f"not {action_id}: dismissed {need} times"}
        )
    return items


def _resting(
    context: CustomerContext, policies: Policies, now: datetime
) -> dict[str, tuple[datetime, datetime]]:
    """Category -> (latest purchase, end of its rest), as ``purchase.recent_purchases`` has
    it, without the set of every product bought that the briefing does not need."""
    rest = policies.recent_purchase.category_rest
    since = now - rest
    rested: dict[str, tuple[datetime, datetime]] = {}
    for bought in reversed(context.purchases):
        at = bought.at
        if at < since:
            break
        if bought.category not in rested and at <= now:
            rested[bought.category] = (at, at + rest)
    return rested


@lru_cache(maxsize=4096)
def _day(at: datetime, zone: tzinfo) -> str:
    """``format_day``, once per (instant, zone): a purchase is quoted on many decisions."""
    return format_day(at, zone)


@lru_cache(maxsize=4096)
def _moment(at: datetime, zone: tzinfo) -> tuple[date, str, str]:
    """``moment_texts``, once per (instant, zone): the last contact is quoted again and again."""
    return moment_texts(at, zone)


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
    contacts = _PERSONAL_CONTACTS
    for channel in _PERSON_CHANNELS:
        for item in reversed(context.recent.get(channel, ())):
            if latest_at is not None and item.at <= latest_at:
                break  # newest first: nothing older can be the latest contact
            what = contacts.get(item.type)
            if what is None:
                continue
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
    day, same_day, other_day = _moment(latest_at, zone)
    when = same_day if day == now.astimezone(zone).date() else other_day
    return {**latest, "at": utc_text(latest_at), "when": when}


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
        ring = context.recent.get(channel)
        if not ring:
            continue
        # Rings are in time order: the recent ones are a tail (usually all of it).
        count = (
            len(ring)
            if ring[0].at >= since
            else len(ring) - bisect.bisect_left(ring, since, key=_AT)
        )
        if not count:
            continue
        rank = (count, ring[-1].at)
        if best is None or rank > best:
            best, chosen = rank, channel
    return chosen
