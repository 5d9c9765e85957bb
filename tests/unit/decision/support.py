"""Builders shared by the decision tests: events, contexts, small catalogues."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from libs.context.model import ConsentState, CustomerContext, PurposeConsent
from libs.context.reducers import apply_event
from libs.contract.interaction import InteractionEvent
from services.decision.domain.catalogue import (
    Catalogue,
    DecisionConfig,
    load_config,
    parse_catalogue,
)
from services.decision.domain.decide import DecisionResult, decide
from services.decision.domain.history import ContactHistory
from services.decision.domain.policies import Policies

T0 = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
CONFIG_DIR = Path(__file__).resolve().parents[3] / "deploy" / "config"
CUSTOMER = "c1"
_ids = itertools.count()


@cache
def starter() -> DecisionConfig:
    return load_config(CONFIG_DIR / "catalogue.yaml", CONFIG_DIR / "policies.yaml")


def event(
    type: str,
    channel: str = "web",
    at: datetime = T0,
    *,
    event_id: str | None = None,
    attrs: dict[str, Any] | None = None,
    **attributes: Any,
) -> InteractionEvent:
    """``attrs`` is for attribute names that clash with the parameters (``channel``)."""
    attributes = {**attributes, **(attrs or {})}
    return InteractionEvent.model_validate(
        {
            "schema": "interaction/v1",
            "event_id": event_id or f"e{next(_ids)}",
            "type": type,
            "channel": channel,
            "occurred_at": at.isoformat(),
            "identity": {"customer_id": CUSTOMER},
            "attributes": attributes,
        }
    )


def context(**fields: Any) -> CustomerContext:
    base: dict[str, Any] = {
        "customer_id": CUSTOMER,
        "provisional": False,
        "first_seen": T0 - timedelta(days=60),
        "last_seen": T0,
        "last_channel": "web",
    }
    base.update(fields)
    return CustomerContext(**base)


def consent(*channels: str, purpose: str = "marketing", at: datetime = T0) -> dict[str, Any]:
    """A ``consent`` mapping granting ``purpose`` on the channels (or all, with none)."""
    statement = ConsentState(True, at - timedelta(days=1))
    if not channels:
        return {purpose: PurposeConsent(all_channels=statement)}
    return {purpose: PurposeConsent(channels={channel: statement for channel in channels})}


def replay(
    events: Iterable[InteractionEvent], ctx: CustomerContext | None = None
) -> CustomerContext:
    for item in events:
        ctx = apply_event(ctx, item, CUSTOMER, False, item.occurred_at)
    assert ctx is not None
    return ctx


def catalogue_of(
    *actions: dict[str, Any], policies: Policies | None = None, version: str = "test"
) -> tuple[Catalogue, Policies]:
    catalogue = parse_catalogue({"actions": list(actions)}, version)
    chosen = policies if policies is not None else Policies()
    return catalogue, chosen.model_copy(update={"policy_version": version})


def action(id: str, kind: str = "offer", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": id,
        "kind": kind,
        "category": fields.pop("category", "misc"),
        "title": id,
        "channels": ["web", "phone", "mobile", "store"],
        "triggers": ["page_view", "call_started", "store_visit", "app_open"],
        "propensity": 0.5,
        "value": 10,
    }
    base.update(fields)
    return base


def run(
    events: Iterable[InteractionEvent],
    catalogue: Catalogue,
    policies: Policies,
    ctx: CustomerContext | None = None,
    history: ContactHistory | None = None,
) -> list[tuple[InteractionEvent, DecisionResult]]:
    """Feed events through context and decision as the services would, in order."""
    history = history or ContactHistory.empty(CUSTOMER)
    results = []
    for item in events:
        ctx = apply_event(ctx, item, CUSTOMER, False, item.occurred_at)
        result = decide(item, ctx, history, catalogue, policies, item.occurred_at)
        history = result.history
        results.append((item, result))
    return results
