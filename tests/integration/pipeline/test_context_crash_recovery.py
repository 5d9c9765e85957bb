"""SIGKILL the context worker mid-stream: its context is rebuilt from the changelog,
no event is lost and none is applied twice."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from libs.contract.interaction import InteractionEvent
from services.context.domain.reducers import apply_event
from tests.support.events import interaction
from tests.support.kafka_io import Consumed, consume_until, event_bytes, produce
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


def _oracle(events: list[tuple[str, dict[str, Any]]], customer: str) -> Any:
    context = None
    for _, raw in events:
        event = InteractionEvent.model_validate(raw)
        context = apply_event(context, event, customer, False, datetime.now(UTC))
    assert context is not None
    return orjson.loads(context.to_bytes())


async def test_a_killed_context_worker_recovers_the_same_contexts(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"k{uuid.uuid4().hex[:8]}.",
        partitions=2,
    )
    names = TopicNames(settings.topic_prefix)
    from libs.common.provision import provision

    assert (await provision(settings)).ok
    journeys = _journeys(seed=7)
    # Round-robin across customers, so every customer is mid-journey at the kill.
    ordered = [journeys[c][i] for i in range(EVENTS_PER_CUSTOMER) for c in journeys]
    half = len(ordered) // 2
    all_ids = {event["event_id"] for _, event in ordered}

    def contextualized_ids(seen: list[Consumed]) -> set[str]:
        return {r.json()["event"]["event_id"] for r in seen if r.json()["kind"] == "event"}

    with running_stack(settings, tmp_path, "intake", "identity", "context") as stack:
        await produce(
            settings, [(names.interactions(ch), None, event_bytes(e)) for ch, e in ordered[:half]]
        )
        await consume_until(
            settings,
            [names.contextualized],
            lambda seen: len(contextualized_ids(seen)) >= half // 2,
        )
        rest = asyncio.create_task(
            produce(
                settings,
                [(names.interactions(ch), None, event_bytes(e)) for ch, e in ordered[half:]],
            )
        )
        stack.kill("context")
        await rest
        # Started again as an orchestrator would (and again, should it exit to be
        # restarted); the outputs say when it is back.
        async with restarting(stack, "context") as restarts:
            seen = await consume_until(
                settings,
                [names.contextualized],
                lambda seen: contextualized_ids(seen) >= all_ids,
                timeout=120,
            )
        print(f"context started {len(restarts)} time(s) after the kill")
        assert restarts

    # Nothing lost: every event came out with its context.
    assert contextualized_ids(seen) >= all_ids
    # Nothing applied twice, nothing missing from the state: the context that came
    # out with each customer's last event equals the one an uninterrupted run builds.
    last_context: dict[str, Any] = {}
    for record in seen:
        body = record.json()
        if body["kind"] == "event":
            last_context[body["customer_id"]] = body["context"]
    for customer, events in journeys.items():
        expected = _oracle(events, customer)
        got = last_context[customer]
        assert got["processed_event_ids"] == expected["processed_event_ids"], customer
        assert got["recent"] == expected["recent"], customer
        assert got["purchases"] == expected["purchases"]
        assert got["cart"] == expected["cart"]
