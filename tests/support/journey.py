"""Drive one customer through the running pipeline and read what it decided."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from services.cli.stack import Stack
from tests.support.events import interaction
from tests.support.kafka_io import Consumed, consume_until, event_bytes, produce, wait_for

_DECISIONS = re.compile(r"^concierge_decision_decisions_total\{[^}]*\} ([0-9.e+]+)$", re.M)
# Intake (its identity part) drops a repeated event_id and counts it.
_DUPLICATES = re.compile(
    r'^concierge_identity_events_total\{[^}]*outcome="duplicate"[^}]*\} ([0-9.e+]+)$', re.M
)


def _metric(stack: Stack, service: str, pattern: re.Pattern[str]) -> float:
    text = httpx.get(f"{stack.url(service)}/metrics", timeout=5).text
    return sum(float(value) for value in pattern.findall(text))


def decisions_made(stack: Stack) -> float:
    return _metric(stack, "decision", _DECISIONS)


def duplicates_dropped(stack: Stack) -> float:
    return _metric(stack, "intake", _DUPLICATES)


@dataclass
class Journey:
    """Events for one customer, sent one at a time so that their order holds across
    channel topics (intake reads the four topics independently)."""

    stack: Stack
    settings: CommonSettings
    customer_id: str = field(default_factory=lambda: f"C-{uuid.uuid4().hex[:10]}")
    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def names(self) -> TopicNames:
        return TopicNames(self.settings.topic_prefix)

    async def send(
        self,
        event_type: str,
        channel: str,
        attributes: dict[str, Any] | None = None,
        identity: dict[str, str] | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        event = interaction(
            event_type,
            channel,
            identity or {"customer_id": self.customer_id},
            attributes,
            event_id=event_id,
        )
        decided, dropped = decisions_made(self.stack), duplicates_dropped(self.stack)
        repeat = self._repeat(event)
        await produce(self.settings, [(self.names.interactions(channel), None, event_bytes(event))])
        # Decided, or dropped as a repeat by intake, before the next event goes in.
        if repeat:
            await wait_for(
                lambda: duplicates_dropped(self.stack) > dropped,
                what=f"repeat of {event['event_id']} dropped",
            )
        else:
            await wait_for(
                lambda: decisions_made(self.stack) > decided, what=f"decision for {event_type}"
            )
        self.sent.append(event)
        return event

    def _repeat(self, event: dict[str, Any]) -> bool:
        return any(e["event_id"] == event["event_id"] for e in self.sent)

    async def outputs(self, at_least: int = 0) -> list[dict[str, Any]]:
        """Actions and suppressions for this customer, in the order they were decided."""
        topics = [self.names.actions(c) for c in CHANNELS] + [self.names.suppressions]

        def mine(seen: list[Consumed]) -> list[Consumed]:
            return [r for r in seen if r.key == self.customer_id.encode()]

        seen = await consume_until(
            self.settings, topics, lambda seen: len(mine(seen)) >= at_least, timeout=30
        )
        outputs = [dict(r.json(), _topic=r.topic) for r in mine(seen)]
        # Several topics are read at once, so arrival order says nothing across them.
        return sorted(outputs, key=lambda o: o.get("decided_at") or o["effective_at"])

    async def actions(self, at_least: int = 0) -> list[dict[str, Any]]:
        return [o for o in await self.outputs(at_least) if o.get("schema") == "action/v1"]

    async def suppressions(self, at_least: int = 0) -> list[dict[str, Any]]:
        return [o for o in await self.outputs(at_least) if o.get("schema") == "suppression/v1"]
