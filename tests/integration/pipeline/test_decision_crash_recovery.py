"""SIGKILL the decision worker mid-stream: its contexts are rebuilt from the
changelog, no event is lost and none is applied twice."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from libs.context import CustomerContext
from libs.context.reducers import apply_event
from libs.contract.interaction import InteractionEvent
from libs.pipeline.envelopes import decode_resolved
from tests.support.events import interaction
from tests.support.journey import decisions_made
from tests.support.kafka_io import (
    Consumed,
    consume_until,
    event_bytes,
    produce,
    read_all,
    wait_for,
)
from tests.support.stack import restarting, running_stack

pytestmark = pytest.mark.integration

CUSTOMERS = 12
EVENTS_PER_CUSTOMER = 20


def _journeys(seed: int) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("web", "page_view", {"page_type": "product", "product_id": "P1", "category": "shoes"}),
        ("web", "cart_add", {"product_id": "P1", "category": "shoes", "price": 80}),
        ("web", "checkout_failed", {"reason": "card_declined"}),
        ("phone", "call_started", {}),
        ("mobile", "app_open", {}),
        ("store", "store_visit", {"store_id": "S-1"}),
        ("web", "search", {"query": "boots", "results_count": 0}),
    ]
    journeys: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for number in range(CUSTOMERS):
        customer = f"C-{seed}-{number}"
        events = []
        for step in range(EVENTS_PER_CUSTOMER):
            channel, event_type, attributes = rng.choice(steps)
            events.append(
                (
                    channel,
                    interaction(
                        event_type,
                        channel,
                        {"customer_id": customer},
                        attributes,
                        occurred_at=start + timedelta(seconds=step),
                    ),
                )
            )
        journeys[customer] = events
    return journeys


def _oracle(events: list[tuple[str, dict[str, Any]]], customer: str) -> CustomerContext:
    context = None
    for _, raw in events:
        event = InteractionEvent.model_validate(raw)
        context = apply_event(context, event, customer, False, datetime.now(UTC))
    assert context is not None
    return context


def _apply_all(events: list[InteractionEvent], customer: str) -> CustomerContext:
    context = None
    for event in events:
        context = apply_event(context, event, customer, False, datetime.now(UTC))
    assert context is not None
    return context


def _latest_contexts(seen: list[Consumed]) -> dict[str, CustomerContext]:
    """Each customer's context as the decision worker last wrote it to its changelog."""
    latest: dict[str, CustomerContext] = {}
    for record in seen:
        if record.key is None:
            continue
        customer = record.key.decode()
        if record.value is None:
            latest.pop(customer, None)
        else:
            latest[customer] = CustomerContext.from_bytes(record.value)
    return latest


async def test_a_killed_decision_worker_recovers_the_same_contexts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"k{uuid.uuid4().hex[:8]}.",
        partitions=2,
    )
    names = TopicNames(settings.topic_prefix)
    assert (await provision(settings)).ok
    journeys = _journeys(seed=7)
    expected = {customer: _oracle(events, customer) for customer, events in journeys.items()}
    # Round-robin across customers, so every customer is mid-journey at the kill.
    ordered = [journeys[c][i] for i in range(EVENTS_PER_CUSTOMER) for c in journeys]
    half = len(ordered) // 2
    changelog = names.changelog("decision", "customer-contexts")

    def all_applied(seen: list[Consumed]) -> bool:
        latest = _latest_contexts(seen)
        return all(
            customer in latest
            # As sets here: intake reads the four channel topics independently, so
            # a customer's events may be applied in another order than sent.
            and set(latest[customer].processed_event_ids) == set(context.processed_event_ids)
            for customer, context in expected.items()
        )

    with running_stack(settings, tmp_path, "intake", "decision") as stack:
        await produce(
            settings, [(names.interactions(ch), None, event_bytes(e)) for ch, e in ordered[:half]]
        )
        await wait_for(
            lambda: decisions_made(stack) >= half // 2, what="half the first events decided"
        )
        rest = asyncio.create_task(
            produce(
                settings,
                [(names.interactions(ch), None, event_bytes(e)) for ch, e in ordered[half:]],
            )
        )
        stack.kill("decision")
        await rest
        # Started again as an orchestrator would (and again, should it exit to be
        # restarted); the changelog says when every event is in.
        async with restarting(stack, "decision") as restarts:
            seen = await consume_until(settings, [changelog], all_applied, timeout=120)
        print(f"decision started {len(restarts)} time(s) after the kill")
        assert restarts

    # Nothing lost, nothing applied twice, nothing missing from the state: each
    # customer's stored context equals the one an uninterrupted run builds from
    # the events in the order intake resolved them (one partition per customer).
    resolved: dict[str, list[InteractionEvent]] = {}
    for record in sorted(
        await read_all(settings, [names.resolved]), key=lambda r: (r.partition, r.offset)
    ):
        envelope = decode_resolved(record.value or b"")
        if envelope.kind == "event" and envelope.event is not None:
            resolved.setdefault(envelope.customer_id, []).append(envelope.event)
    in_resolved_order = {
        customer: _apply_all(events, customer) for customer, events in resolved.items()
    }
    assert set(in_resolved_order) == set(expected)
    latest = _latest_contexts(seen)
    for customer, context in in_resolved_order.items():
        got = latest[customer]
        assert got.processed_event_ids == context.processed_event_ids, customer
        assert got.recent == context.recent, customer
        assert got.purchases == context.purchases
        assert got.cart == context.cart
