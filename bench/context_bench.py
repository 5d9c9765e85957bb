"""What one event costs the context stage, and what one customer costs in bytes.

    .venv/bin/python -m bench.context_bench [--customers 2000] [--seed 11] [--json PATH]

Simulates a seeded population of customers (browsing sessions, app use, calls,
store visits, purchases, decisions shown and dismissed, the odd complaint and
consent change), interleaves their events in time order, and drives them
through the context stage as the Faust agent will: read the stored bytes,
``from_bytes``, ``apply_event``, ``to_bytes``. On one pinned core it times each
step per event, and, in the same loop on the same bytes, a baseline: a bare
orjson round trip of the context (``loads`` + ``dumps``, no validation, no
logic), the floor any stored-JSON design pays. Identity resolution
(``plan_identity_update``, in-memory tables) is timed on the same stream, since
that stage runs on a single partition.

Sizes: the stored JSON per customer after the simulation (median, p90, max),
and a context with every collection at its bound, with realistic ids and with
every string at the contract's 128-character maximum.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from libs.context import CustomerContext, apply_event
from libs.context import model as bounds
from libs.context.model import (
    ActionOutcome,
    Complaint,
    ConsentState,
    Interaction,
    Profile,
    Purchase,
    PurposeConsent,
    Session,
)
from libs.contract.interaction import InteractionEvent
from services.intake.identity import IdentifierSet, LinkRecord, plan_identity_update

START = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
PRODUCTS = [f"sku-{n:06d}" for n in range(5000)]
CATEGORIES = [f"cat-{n:02d}" for n in range(40)]


# --- a seeded population ----------------------------------------------------------------


@dataclass(frozen=True)
class Simulated:
    customer_id: str
    event: InteractionEvent


def _record(
    rng: random.Random,
    customer: int,
    type_: str,
    on: str,
    at: datetime,
    session: str | None,
    **attributes: Any,
) -> InteractionEvent:
    """One valid event of ``customer`` on channel ``on`` (``channel`` is free for consent)."""
    identity: dict[str, str] = {"customer_id": f"cust-{customer:07d}"}
    if on == "web":
        identity["anonymous_id"] = f"anon-{customer:07d}"
    elif on == "mobile":
        identity["device_id"] = f"dev-{customer:07d}"
    if on in ("web", "mobile") and rng.random() < 0.5:
        # Half the digital traffic is not logged in: identity resolves it through links.
        del identity["customer_id"]
    record: dict[str, Any] = {
        "schema": "interaction/v1",
        "event_id": f"evt-{rng.getrandbits(96):024x}",
        "type": type_,
        "channel": on,
        "occurred_at": at.isoformat(),
        "identity": identity,
        "attributes": {name: value for name, value in attributes.items() if value is not None},
    }
    if session is not None:
        record["session_id"] = session
    return InteractionEvent.model_validate(record)


def _digital_session(
    rng: random.Random, customer: int, channel: str, at: datetime
) -> list[InteractionEvent]:
    view = "page_view" if channel == "web" else "screen_view"
    session = f"s-{rng.getrandbits(48):012x}"
    events = []
    if channel == "mobile":
        events.append(_record(rng, customer, "app_open", channel, at, session))
    for _ in range(rng.randint(3, 15)):
        at += timedelta(seconds=rng.randint(5, 120))
        product = rng.choice(PRODUCTS)
        roll = rng.random()
        if roll < 0.55:
            page = rng.choices(["home", "product", "category", "help", "search"], [2, 6, 3, 1, 1])[
                0
            ]
            # Shop front ends name the product's category on product and category pages.
            on_shelf = (
                {"category": rng.choice(CATEGORIES)} if page in {"product", "category"} else {}
            )
            events.append(
                _record(
                    rng,
                    customer,
                    view,
                    channel,
                    at,
                    session,
                    page_type=page,
                    product_id=product,
                    **on_shelf,
                )
            )
        elif roll < 0.70:
            results = rng.choice([0, 0, 3, 12, 40])
            events.append(
                _record(
                    rng,
                    customer,
                    "search",
                    channel,
                    at,
                    session,
                    query="red shoes",
                    results_count=results,
                )
            )
        elif roll < 0.82:
            events.append(
                _record(
                    rng,
                    customer,
                    "cart_add",
                    channel,
                    at,
                    session,
                    product_id=product,
                    category=rng.choice(CATEGORIES),
                    price=round(rng.uniform(5, 200), 2),
                )
            )
        elif roll < 0.86:
            events.append(
                _record(rng, customer, "cart_remove", channel, at, session, product_id=product)
            )
        elif roll < 0.93:
            events.append(
                _record(
                    rng,
                    customer,
                    rng.choice(
                        ["action_shown", "action_shown", "action_dismissed", "action_accepted"]
                    ),
                    channel,
                    at,
                    session,
                    decision_id=f"dec-{rng.getrandbits(64):016x}",
                    action_id=f"act-{rng.randrange(30)}",
                )
            )
        else:
            events.append(_record(rng, customer, "checkout_started", channel, at, session))
            at += timedelta(seconds=30)
            if rng.random() < 0.25:
                events.append(
                    _record(
                        rng,
                        customer,
                        "checkout_failed",
                        channel,
                        at,
                        session,
                        reason="card declined",
                    )
                )
            else:
                items = [
                    {
                        "product_id": rng.choice(PRODUCTS),
                        "category": rng.choice(CATEGORIES),
                        "price": 20.0,
                        "quantity": 1,
                    }
                    for _ in range(rng.randint(1, 3))
                ]
                events.append(
                    _record(
                        rng,
                        customer,
                        "purchase",
                        channel,
                        at,
                        session,
                        order_id=f"ord-{rng.getrandbits(40):010x}",
                        items=items,
                        total=60.0,
                    )
                )
    return events


def _call(rng: random.Random, customer: int, at: datetime) -> list[InteractionEvent]:
    session = f"call-{rng.getrandbits(48):012x}"
    events = [_record(rng, customer, "call_started", "phone", at, session, dialled="0800-100")]
    for menu in rng.choices(["main", "billing", "orders", "main"], k=rng.randint(1, 4)):
        at += timedelta(seconds=20)
        events.append(
            _record(rng, customer, "ivr_step", "phone", at, session, menu=menu, option="1")
        )
    at += timedelta(seconds=10)
    events.append(_record(rng, customer, "call_queued", "phone", at, session, queue="billing"))
    at += timedelta(seconds=rng.randint(30, 600))
    if rng.random() < 0.2:
        events.append(
            _record(
                rng,
                customer,
                "call_abandoned",
                "phone",
                at,
                session,
                stage="queue",
                wait_seconds=240.0,
            )
        )
        return events
    events.append(
        _record(
            rng,
            customer,
            "call_connected",
            "phone",
            at,
            session,
            queue="billing",
            agent_id=f"agent-{rng.randrange(200)}",
        )
    )
    at += timedelta(seconds=rng.randint(60, 900))
    events.append(
        _record(
            rng,
            customer,
            "call_ended",
            "phone",
            at,
            session,
            duration_seconds=300.0,
            disposition="resolved",
        )
    )
    return events


def _store(rng: random.Random, customer: int, at: datetime) -> list[InteractionEvent]:
    store = f"store-{rng.randrange(300):03d}"
    events = [_record(rng, customer, "store_visit", "store", at, None, store_id=store)]
    if rng.random() < 0.4:
        events.append(
            _record(
                rng,
                customer,
                "associate_assist",
                "store",
                at + timedelta(minutes=5),
                None,
                store_id=store,
                associate_id=f"assoc-{rng.randrange(50)}",
            )
        )
    if rng.random() < 0.15:
        events.append(
            _record(
                rng,
                customer,
                "return",
                "store",
                at + timedelta(minutes=9),
                None,
                product_id=rng.choice(PRODUCTS),
                reason="too small",
            )
        )
    return events


def _account(rng: random.Random, customer: int, at: datetime) -> list[InteractionEvent]:
    channel = rng.choice(["web", "mobile", "phone"])
    roll = rng.random()
    if roll < 0.35:
        return [
            _record(
                rng,
                customer,
                "consent_updated",
                channel,
                at,
                None,
                purpose=rng.choice(["marketing", "personalization"]),
                channel=rng.choice([None, "email", "sms", "push"]),
                granted=rng.random() < 0.7,
            )
        ]
    if roll < 0.6:
        return [
            _record(
                rng,
                customer,
                "profile_updated",
                channel,
                at,
                None,
                segment="family",
                value_tier=rng.choice(["bronze", "silver", "gold"]),
                language="en-GB",
                timezone="Europe/London",
            )
        ]
    case = f"case-{rng.getrandbits(32):08x}"
    opened = _record(
        rng,
        customer,
        "complaint_opened",
        channel,
        at,
        None,
        case_id=case,
        category="delivery",
        severity=rng.choice(["low", "medium", "high"]),
    )
    if rng.random() < 0.7:
        resolved = _record(
            rng, customer, "complaint_resolved", channel, at + timedelta(days=2), None, case_id=case
        )
        return [opened, resolved]
    return [opened]


def population(customers: int, seed: int) -> tuple[list[Simulated], dict[str, int]]:
    """All customers' events in occurrence order, and how many each has."""
    rng = random.Random(seed)
    stream: list[Simulated] = []
    per_customer: dict[str, int] = {}
    for customer in range(customers):
        # Most customers are occasional, a few are very busy (heavy tail).
        visits = max(1, int(rng.lognormvariate(1.3, 0.9)))
        at = START + timedelta(minutes=rng.randint(0, 600))
        events: list[InteractionEvent] = []
        for _ in range(visits):
            roll = rng.random()
            if roll < 0.45:
                events += _digital_session(rng, customer, "web", at)
            elif roll < 0.75:
                events += _digital_session(rng, customer, "mobile", at)
            elif roll < 0.87:
                events += _call(rng, customer, at)
            elif roll < 0.95:
                events += _store(rng, customer, at)
            else:
                events += _account(rng, customer, at)
            at += timedelta(hours=rng.expovariate(1 / 30))
        customer_id = f"cust-{customer:07d}"
        per_customer[customer_id] = len(events)
        stream += [Simulated(customer_id, event) for event in events]
    stream.sort(key=lambda item: item.event.occurred_at)
    return stream, per_customer


# --- timing ---------------------------------------------------------------------------


def _summary_us(samples_ns: list[int]) -> dict[str, float]:
    cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return {
        "p50_us": round(cuts[49] / 1000, 2),
        "p99_us": round(cuts[98] / 1000, 2),
        "mean_us": round(statistics.fmean(samples_ns) / 1000, 2),
    }


def run_context_stage(stream: list[Simulated]) -> tuple[dict[str, Any], dict[str, bytes]]:
    clock = time.perf_counter_ns
    table: dict[str, bytes] = {}
    decode: list[int] = []
    reduce: list[int] = []
    encode: list[int] = []
    baseline: list[int] = []
    stage: list[int] = []
    for item in stream:
        stored = table.get(item.customer_id)
        now = item.event.occurred_at

        started = clock()
        ctx = CustomerContext.from_bytes(stored) if stored is not None else None
        decoded = clock()
        updated = apply_event(ctx, item.event, item.customer_id, False, now)
        reduced = clock()
        data = updated.to_bytes()
        encoded = clock()
        table[item.customer_id] = data

        # Baseline on the same bytes: what merely storing JSON costs.
        if stored is not None:
            base_started = clock()
            orjson.dumps(orjson.loads(stored))
            baseline.append(clock() - base_started)

        reduce.append(reduced - decoded)
        encode.append(encoded - reduced)
        if ctx is not None:  # a customer's first event has nothing to decode
            decode.append(decoded - started)
            stage.append(encoded - started)
    figures: dict[str, Any] = {
        "apply_event": _summary_us(reduce),
        "from_bytes": _summary_us(decode),
        "to_bytes": _summary_us(encode),
        "stage_total": _summary_us(stage),
        "baseline_orjson_round_trip": _summary_us(baseline),
    }
    base_mean = figures["baseline_orjson_round_trip"]["mean_us"]
    figures["ratio_apply_event_to_baseline"] = round(
        figures["apply_event"]["mean_us"] / base_mean, 2
    )
    figures["ratio_stage_total_to_baseline"] = round(
        figures["stage_total"]["mean_us"] / base_mean, 2
    )
    return figures, table


def run_identity_stage(stream: list[Simulated]) -> dict[str, Any]:
    clock = time.perf_counter_ns
    links: dict[str, LinkRecord] = {}
    sets: dict[str, IdentifierSet] = {}
    samples: list[int] = []
    for item in stream:
        started = clock()
        update = plan_identity_update(item.event, links, sets, item.event.occurred_at)
        samples.append(clock() - started)
        links.update(update.link_writes)
        for key in update.link_deletes:
            del links[key]
        sets.update(update.set_writes)
        for customer in update.set_deletes:
            del sets[customer]
    stored = sum(len(key) + len(link.to_bytes()) for key, link in links.items())
    stored += sum(len(key) + len(record.to_bytes()) for key, record in sets.items())
    figures: dict[str, Any] = {"plan_identity_update": _summary_us(samples)}
    figures["links"] = len(links)
    figures["stored_bytes_per_customer"] = round(stored / max(1, len(sets)))
    return figures


# --- sizes ----------------------------------------------------------------------------


def _sizes(table: dict[str, bytes]) -> dict[str, int]:
    sizes = sorted(len(data) for data in table.values())
    cuts = statistics.quantiles(sizes, n=10, method="inclusive")
    compressed = sorted(len(zlib.compress(data, 1)) for data in table.values())
    return {
        "median_bytes": int(statistics.median(sizes)),
        "p90_bytes": int(cuts[8]),
        "max_bytes": sizes[-1],
        "median_zlib1_bytes": int(statistics.median(compressed)),
    }


def full_context(width: int | None) -> CustomerContext:
    """Every collection at its bound; ``width`` pads every id to that many characters."""

    def ident(prefix: str, n: int) -> str:
        text = f"{prefix}-{n:06d}"
        return text.ljust(width, "x") if width else text

    at = START
    times = tuple(at + timedelta(minutes=n) for n in range(bounds.MAX_SIGNAL_TIMESTAMPS))
    recent = {
        channel: tuple(
            Interaction(
                ident("evt", n) if width else f"evt-{n:032x}",
                "page_view",
                at + timedelta(minutes=n),
                {
                    "page_type": "product",
                    "product_id": ident("sku", n),
                    "category": ident("cat", n),
                },
            )
            for n in range(bounds.MAX_RECENT_PER_CHANNEL)
        )
        for channel in ("web", "phone", "mobile", "store")
    }
    sessions = {
        channel: Session(
            ident("sess", 1), at, at, 40, 3, tuple(ident("menu", n) for n in range(16))
        )
        for channel in ("web", "phone", "mobile", "store")
    }
    statement = ConsentState(True, at)
    return CustomerContext(
        customer_id=ident("cust", 1),
        provisional=False,
        first_seen=at,
        last_seen=at,
        last_channel="web",
        recent=recent,
        sessions=sessions,
        open_complaints={
            ident("case", n): Complaint(ident("cat", n), "high", at, "phone")
            for n in range(bounds.MAX_OPEN_COMPLAINTS)
        },
        resolved_complaints={ident("rcase", n): at for n in range(bounds.MAX_RESOLVED_COMPLAINTS)},
        consent={
            purpose: PurposeConsent(
                statement, dict.fromkeys(sorted(bounds.CONTACT_CHANNELS), statement)
            )
            for purpose in sorted(bounds.CONSENT_PURPOSES)
        },
        purchases=tuple(
            Purchase(ident("ord", n), ident("sku", n), ident("cat", n), at)
            for n in range(bounds.MAX_PURCHASES)
        ),
        signals={signal: times for signal in bounds.SIGNAL_WINDOWS},
        outcomes={
            ident("act", n): ActionOutcome(
                at, 9, 1, 5, at, at, times[: bounds.MAX_RECENT_DISMISSALS]
            )
            for n in range(bounds.MAX_TRACKED_ACTIONS)
        },
        profile=Profile("family", "parent", "gold", "Europe/London", "en-GB"),
        cart=tuple(ident("sku", n) for n in range(bounds.MAX_CART_ITEMS)),
        processed_event_ids=tuple(f"{n:016x}" for n in range(bounds.MAX_PROCESSED_EVENT_IDS)),
        merged_sources=tuple(f"{n:016x}" for n in range(bounds.MAX_MERGED_SOURCES)),
        **_full_interests(ident, at),
    )


def _full_interests(ident: Callable[[str, int], str], at: datetime) -> dict[str, Any]:
    """Interest fields at their bounds, when the context has them (this script also
    measures code from before they existed, for a before/after comparison)."""
    if "interests" not in CustomerContext.__dataclass_fields__:
        return {}
    from libs.context.model import CartLine, CategoryInterest, ProductInterest

    return {
        "interests": {
            ident("cat", n): CategoryInterest(12.345, at, 40)
            for n in range(bounds.MAX_INTEREST_CATEGORIES)
        },
        "products_of_interest": tuple(
            ProductInterest(ident("sku", n), ident("cat", n), at)
            for n in range(bounds.MAX_INTEREST_PRODUCTS)
        ),
        "cart_lines": {
            ident("sku", n): CartLine(ident("cat", n), at, 1299.99)
            for n in range(bounds.MAX_CART_ITEMS)
        },
    }


# --- main -----------------------------------------------------------------------------


def _pin_to_one_core() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="context reducer cost and bytes per customer")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    args = parser.parse_args(argv)

    core = _pin_to_one_core()
    stream, per_customer = population(args.customers, args.seed)
    # Warm up lazily built validators, then measure with a clean heap.
    run_context_stage(stream[: min(2000, len(stream))])
    gc.collect()
    context_figures, table = run_context_stage(stream)
    identity_figures = run_identity_stage(stream)
    full = full_context(None).to_bytes()
    widest = full_context(128).to_bytes()
    figures: dict[str, Any] = {
        "events": len(stream),
        "customers": len(per_customer),
        "events_per_customer_median": statistics.median(per_customer.values()),
        "events_per_customer_max": max(per_customer.values()),
        "context": context_figures,
        "identity": identity_figures,
        "bytes_per_customer": _sizes(table),
        "bytes_at_full_bounds": len(full),
        "bytes_at_full_bounds_128_char_ids": len(widest),
        "seed": args.seed,
        "core": core,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    assert CustomerContext.from_bytes(full) == full_context(None)
    print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
    if args.json_path is not None:
        args.json_path.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
