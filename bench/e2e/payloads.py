"""Each step's payloads: the journey simulator's events at the offered rate.

Every system gets exactly the same events in the same order at the same
offsets for a given step. Each step uses its own seed, so event ids (which
carry the seed) never repeat within a system's ladder: a repeat would be
deduplicated by Concierge and never produce an output.
"""

from __future__ import annotations

from typing import Any

from bench.e2e.schedule import NS_PER_S, Planned
from services.simulator.journeys import events_at_rate

# Identifiers a channel system can put in a record key without leaking PII
# (raw phone numbers and e-mails are hashed by intake, never keys).
KEY_IDENTIFIERS = ("customer_id", "anonymous_id", "device_id", "loyalty_id")
PAYLOAD_SOURCE = "services.simulator.journeys.events_at_rate"


def key_of(event: dict[str, Any]) -> bytes | None:
    identity = event.get("identity")
    if not isinstance(identity, dict):
        return None
    for name in KEY_IDENTIFIERS:
        value = identity.get(name)
        if isinstance(value, str) and value:
            return value.encode()
    return None


def step_seed(base_seed: int, step_index: int) -> int:
    return base_seed + step_index


def step_plan(
    rate: float, seconds: float, customers: int, base_seed: int, step_index: int
) -> list[Planned]:
    seed = step_seed(base_seed, step_index)
    return [
        Planned(round(offset * NS_PER_S), channel, key_of(event), event)
        for offset, channel, event in events_at_rate(customers, seed, rate, seconds)
    ]
