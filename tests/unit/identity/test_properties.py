"""Properties of identity resolution over arbitrary sequences of identify and other events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.contract.interaction import InteractionEvent
from services.intake.identity import (
    MAX_IDENTIFIERS_PER_CUSTOMER,
    IdentifierSet,
    LinkRecord,
    identifier_keys,
    plan_erasure,
    plan_identity_update,
)
from tests.unit.context.factories import T0

HASH = "hmac-sha256:{}"


def _pool(prefix: str, size: int) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from([f"{prefix}{n}" for n in range(size)])


IDENTITIES = st.fixed_dictionaries(
    {
        "customer_id": _pool("C", 3),
        "anonymous_id": _pool("a", 5),
        "device_id": _pool("d", 3),
        "loyalty_id": _pool("L", 2),
        "email_hash": st.none() | st.sampled_from([HASH.format(c * 64) for c in "ab"]),
        "phone_hash": st.none() | st.sampled_from([HASH.format(c * 64) for c in "cd"]),
    }
).filter(lambda identity: any(identity.values()))


@st.composite
def interaction(draw: st.DrawFn, step: int) -> InteractionEvent:
    identity = {name: value for name, value in draw(IDENTITIES).items() if value is not None}
    record: dict[str, Any] = {
        "schema": "interaction/v1",
        "event_id": f"e{step}",
        "type": draw(st.sampled_from(["identify", "page_view", "identify", "purchase"])),
        "channel": "web",
        "occurred_at": (T0 + timedelta(hours=step)).isoformat(),
        "identity": identity,
    }
    return InteractionEvent.model_validate(record)


SEQUENCES = st.integers(min_value=1, max_value=40).flatmap(
    lambda size: st.tuples(*(interaction(step) for step in range(size)))
)


@settings(max_examples=150, deadline=None)
@given(SEQUENCES)
def test_identity_invariants_hold_after_every_event(sequence) -> None:
    links: dict[str, LinkRecord] = {}
    sets: dict[str, IdentifierSet] = {}
    for item in sequence:
        before = dict(links)
        update = plan_identity_update(item, links, sets, item.occurred_at)
        resolution = update.resolution
        target = resolution.customer_id

        if item.identity.customer_id:
            assert target == item.identity.customer_id
            assert not resolution.provisional
        assert all(link.customer_id == target for link in update.link_writes.values())
        # Merges only move provisional history, never into itself.
        assert target not in resolution.merges
        for merged in resolution.merges:
            assert any(o.customer_id == merged and o.provisional for o in before.values())
            assert not resolution.provisional
        # A known link changes hands only on an identify carrying a customer_id.
        for key in update.link_writes:
            old = before.get(key)
            if old is not None and not old.provisional and old.customer_id != target:
                assert item.type == "identify"
                assert item.identity.customer_id

        links.update(update.link_writes)
        for key in update.link_deletes:
            del links[key]
        sets.update(update.set_writes)
        for customer in update.set_deletes:
            del sets[customer]

        # Erasure can always find every link: each is listed in its owner's set.
        for key, link in links.items():
            assert key in sets[link.customer_id].keys
        assert all(len(s.keys) <= MAX_IDENTIFIERS_PER_CUSTOMER for s in sets.values())
        assert all(key in links for key in identifier_keys(item.identity) if key.startswith("cid:"))

    for customer in {link.customer_id for link in links.values()}:
        erasure = plan_erasure(customer, links, sets)
        remaining = [link for key, link in links.items() if key not in erasure.link_deletes]
        assert all(link.customer_id != customer for link in remaining)
