"""A decision worker that takes a partition over reads back what was already sent
for it, so an event it gets again after a crash (outputs delivered, offset not
yet committed) does not send its action or suppression a second time."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from libs.common.lag import stage_lags
from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import CHANNELS, TopicNames
from libs.context.reducers import apply_event
from libs.contract.codec import to_json_bytes
from libs.contract.interaction import InteractionEvent
from libs.pipeline.envelopes import ResolvedRecord
from services.cli.stack import Stack
from services.decision.domain.catalogue import load_config
from services.decision.domain.decide import DecisionResult, decide
from services.decision.domain.history import ContactHistory
from services.decision.settings import DecisionSettings
from tests.support.events import interaction
from tests.support.kafka_io import produce, read_all, wait_for
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration


def _decided(customer: str) -> tuple[bytes, DecisionResult]:
    """A complaint (an acknowledgement action and an open-complaint suppression) as
    intake hands it to the decision stage, and what that stage makes of it."""
    settings = DecisionSettings()
    config = load_config(settings.catalogue_path, settings.policies_path)
    raw = interaction("complaint_opened", "phone", {"customer_id": customer}, {"case_id": "K-1"})
    event = InteractionEvent.model_validate(raw)
    now = datetime.now(UTC)
    context = apply_event(None, event, customer, False, now)
    result = decide(
        event, context, ContactHistory.empty(customer), config.catalogue, config.policies, now
    )
    assert len(result.actions) == 1, result.explanation
    assert len(result.suppressions) == 1, result.explanation
    record = ResolvedRecord(kind="event", customer_id=customer, event=event)
    return record.to_bytes(), result


def _metric(stack: Stack, name: str, label: str) -> float:
    text = httpx.get(f"{stack.url('decision')}/metrics", timeout=2).text
    pattern = re.compile(rf"^{re.escape(name)}\{{([^}}]*)\}} ([0-9.e+]+)$", re.M)
    return sum(float(value) for labels, value in pattern.findall(text) if label in labels)


async def test_outputs_already_in_kafka_are_not_sent_again_for_an_event_decided_again(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"rb{uuid.uuid4().hex[:8]}.",
        partitions=2,
    )
    assert (await provision(settings)).ok
    names = TopicNames(settings.topic_prefix)
    sent_before, sent_before_result = _decided(f"C-sent-{uuid.uuid4().hex[:6]}")
    fresh, fresh_result = _decided(f"C-fresh-{uuid.uuid4().hex[:6]}")
    customer = sent_before_result.history.customer_id.encode()
    (action,) = sent_before_result.actions
    (suppression,) = sent_before_result.suppressions
    await produce(
        settings,
        [
            (names.resolved, customer, sent_before),
            (names.resolved, fresh_result.history.customer_id.encode(), fresh),
            # What a worker delivered for the first customer's event before it died,
            # its history not yet written and the event's offset not yet committed.
            (names.actions(action.channel), customer, to_json_bytes(action)),
            (names.suppressions, customer, to_json_bytes(suppression)),
        ],
    )
    decisions = "concierge_decision_decisions_total"
    not_resent = "concierge_decision_outputs_not_resent_total"
    output_topics = [names.actions(channel) for channel in CHANNELS] + [names.suppressions]

    async def committed_to_the_end() -> bool:
        lags = (await stage_lags(settings, ["decision"]))["decision"]
        return all(part.lag == 0 for part in lags)

    with running_stack(settings, tmp_path, "decision") as stack:
        await wait_for(lambda: _metric(stack, decisions, "") >= 2, 60, "both events decided")
        # Committed only once every output of both events is delivered.
        await wait_for(committed_to_the_end, 60, "decision committed to the end")
        outputs = await read_all(settings, output_topics)
        assert _metric(stack, not_resent, '"action"') == 1
        assert _metric(stack, not_resent, '"suppression"') == 1

    emitted = [record.json() for record in outputs]
    decision_ids = [o["decision_id"] for o in emitted if o["schema"] == "action/v1"]
    suppressions = [
        (o["suppression_id"], o["state"], o["trigger"]["event_id"])
        for o in emitted
        if o["schema"] == "suppression/v1"
    ]
    # Each once: the first customer's from before, the second's just decided.
    assert sorted(decision_ids) == sorted(
        action.decision_id for action in (*sent_before_result.actions, *fresh_result.actions)
    )
    assert sorted(suppressions) == sorted(
        (s.suppression_id, s.state.value, s.trigger.event_id)
        for s in (*sent_before_result.suppressions, *fresh_result.suppressions)
    )
    assert len(outputs) == 4, emitted
