"""The stage benchmark's floor does the handler's decisions, not fewer or others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from bench.stage_bench import (
    FlushedTable,
    decision_handler,
    inputs_from,
    intake_handler,
    pure_steps,
    run_stage,
    simulated_inputs,
)
from services.decision.domain.catalogue import load_config
from services.decision.domain.history import ContactHistory
from services.decision.handler import HISTORIES
from services.decision.handler import TABLES as DECISION_TABLES
from services.decision.settings import DecisionSettings
from services.intake.handler import TABLES

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_the_unavoidable_steps_reach_the_handlers_contact_histories() -> None:
    inputs = simulated_inputs(600, 40, 3, NOW - timedelta(minutes=1))
    _, resolved = run_stage(
        intake_handler(), inputs, {name: FlushedTable() for name in TABLES}, 100, NOW
    )
    settings = DecisionSettings()
    config = load_config(settings.catalogue_path, settings.policies_path)
    records = inputs_from(resolved)
    tables = {name: FlushedTable() for name in DECISION_TABLES}
    run_stage(decision_handler(config), records, tables, 100, NOW)

    steps = pure_steps([record.value or b"" for record in records], config, NOW)

    stored = {key: orjson.loads(value) for key, value in tables[HISTORIES].snapshot().items()}
    replayed = {
        customer: orjson.loads(history.to_json())
        for customer, history in steps.histories.items()
        if history != ContactHistory.empty(customer)
    }
    assert stored, "the journeys should have led to decisions"
    # Every customer's decisions as the handler stored them; the floor skips
    # merges, so a provisional customer the handler merged away keeps its own.
    assert {customer: replayed[customer] for customer in stored} == stored
    assert all(customer.startswith("prov:") for customer in replayed.keys() - stored.keys())
    events = sum(1 for record in resolved if b'"kind":"event"' in (record.value or b""))
    assert steps.events == events
    assert min(steps.decode, steps.reducers, steps.decide) > 0
