"""The stage benchmark's floor does the handler's work, not less or other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bench.stage_bench import (
    FlushedTable,
    decision_handler,
    inputs_from,
    intake_handler,
    pure_steps,
    run_stage,
    simulated_inputs,
)
from libs.pipeline.envelopes import decode_resolved
from services.decision.domain.catalogue import load_config
from services.decision.domain.history import ContactHistory
from services.decision.handler import CONTEXTS, HISTORIES
from services.decision.handler import TABLES as DECISION_TABLES
from services.decision.settings import DecisionSettings
from services.intake.handler import TABLES

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_the_floor_reaches_the_handlers_contexts_and_contact_histories() -> None:
    inputs = simulated_inputs(600, 40, 3, NOW - timedelta(minutes=1))
    _, resolved = run_stage(
        intake_handler(), inputs, {name: FlushedTable() for name in TABLES}, 100, NOW
    )
    settings = DecisionSettings()
    config = load_config(settings.catalogue_path, settings.policies_path)
    records = inputs_from(resolved)
    tables = {name: FlushedTable() for name in DECISION_TABLES}
    run_stage(decision_handler(config), records, tables, 100, NOW)

    values = [record.value or b"" for record in records]
    steps = pure_steps(values, config, NOW)

    decoded = [decode_resolved(value) for value in values]
    assert steps.records == len(values)
    assert steps.events == sum(1 for record in decoded if record.kind == "event")
    # The floor skips merges: customers on either side of one are left out below.
    merged = {
        customer
        for record in decoded
        if record.kind in ("merge_out", "merge_in")
        for customer in (record.customer_id, record.merge_target)
        if customer is not None
    }
    assert merged, "the journeys should identify some anonymous visitors"

    stored_histories = tables[HISTORIES].snapshot()
    assert any(ContactHistory.from_json(value).sent for value in stored_histories.values()), (
        "the journeys should lead to actions (their send times hold `now`)"
    )
    compared = 0
    for customer, history in steps.histories.items():
        if customer in merged:
            continue
        if history == ContactHistory.empty(customer):
            assert customer not in stored_histories  # the handler stores no empty history
        else:
            assert history.to_json() == stored_histories[customer]
            compared += 1
    assert compared > 10

    stored_contexts = tables[CONTEXTS].snapshot()
    unmerged = [customer for customer in steps.contexts if customer not in merged]
    assert len(unmerged) > 10
    for customer in unmerged:
        assert steps.contexts[customer].to_bytes() == stored_contexts[customer]
