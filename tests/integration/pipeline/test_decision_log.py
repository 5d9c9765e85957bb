"""The decision log on a real broker: every decision is on it, sealed, with its
reasons; the decision service answers the timeline, the suppressions in force
and one decision; erasure leaves the customer's records unreadable and
unlinked to them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from libs.common.decision_log_reader import LOG_KEYS_TABLE, CustomerLog, read_customer_log
from libs.common.settings import CommonSettings
from libs.contract.codec import from_json_bytes
from libs.contract.queries import SuppressionsNow, Timeline
from libs.pipeline.decision_log import LogKey, log_subject
from services.cli.stack import Stack
from tests.support.journey import Journey
from tests.support.kafka_io import produce, read_all, wait_for

pytestmark = pytest.mark.integration

GOLD = {"value_tier": "gold"}
HOME = {"page_type": "home"}
MARKETING_ON = {"purpose": "marketing", "granted": True}
MARKETING_OFF = {"purpose": "marketing", "granted": False}


def _get(stack: Stack, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{stack.url('decision')}{path}", params=params, timeout=10)


async def _log_with(settings: CommonSettings, customer_id: str, count: int) -> CustomerLog | None:
    found = await read_customer_log(settings, customer_id)
    return found if len(found.records) >= count else None


async def _subject_of(settings: CommonSettings, journey: Journey) -> bytes:
    """The record key of the customer's records on the log, as an auditor finds it:
    their key's id, from the key table's changelog."""
    changelog = journey.names.changelog(*LOG_KEYS_TABLE)
    keys = await read_all(settings, [changelog])
    [raw] = [r.value for r in keys if r.key == journey.customer_id.encode()][-1:]
    assert raw is not None
    return log_subject(LogKey.from_bytes(raw))


async def test_a_decision_that_sends_nothing_is_in_the_log_with_its_reason(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    await journey.send("profile_updated", "web", GOLD)
    view = await journey.send("page_view", "web", HOME)
    log = await wait_for(
        lambda: _log_with(pipeline_settings, journey.customer_id, 2), what="two logged decisions"
    )
    [logged] = [r for r in log.records if r.trigger.event_id == view["event_id"]]
    assert logged.winner is None or logged.winner.action_id
    no_consent = [c for c in logged.candidates if c.excluded and c.excluded.code == "no_consent"]
    assert no_consent, "an offer was considered and ruled out for want of consent"
    assert all("marketing" in c.excluded.detail for c in no_consent if c.excluded)
    assert logged.policy_version
    assert logged.timings.received_at is not None

    # The raw topic holds it sealed: neither the ids nor the reasons are readable.
    seen = await read_all(pipeline_settings, [journey.names.decision_log])
    subject = await _subject_of(pipeline_settings, journey)
    mine = [r.value for r in seen if r.key == subject]
    assert len(mine) >= 2
    assert not any(b"no_consent" in (value or b"") for value in mine)
    # Sealed, and keyed by the customer's key id: the log names no customer.
    assert not any(r.key == journey.customer_id.encode() for r in seen)

    # The decision service explains it by id, and shows it on the timeline.
    decision = _get(
        full_pipeline, f"/v1/decisions/{logged.decision_id}", customer_id=journey.customer_id
    )
    assert decision.status_code == 200
    assert decision.json()["trigger"]["event_id"] == view["event_id"]
    answer = _get(full_pipeline, f"/v1/customers/{journey.customer_id}/timeline", limit="50")
    assert answer.status_code == 200
    timeline = from_json_bytes(Timeline, answer.content)
    kinds = [(e.kind, e.event.event_id if e.event else None) for e in timeline.entries]
    assert ("event", view["event_id"]) in kinds
    shown = [e.decision.decision_id for e in timeline.entries if e.decision is not None]
    assert logged.decision_id in shown
    missing = _get(full_pipeline, "/v1/decisions/dec-nope", customer_id=journey.customer_id)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    # An auditor's command line reads the same records off the log.
    audit = concierge(pipeline_settings, "decisions", journey.customer_id)
    assert audit.returncode == 0, audit.stderr
    lines = [orjson.loads(line) for line in audit.stdout.splitlines()]
    assert logged.decision_id in [line["decision_id"] for line in lines]
    assert "0 record(s) no kept key opens" in audit.stderr


def concierge(settings: CommonSettings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONCIERGE_")}
    env.update(
        CONCIERGE_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        CONCIERGE_TOPIC_PREFIX=settings.topic_prefix,
        CONCIERGE_PARTITIONS=str(settings.partitions),
    )
    command = [sys.executable, "-m", "services.cli.main", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def test_erasure_shreds_the_customers_log_and_empties_what_is_in_force(
    full_pipeline: Stack, pipeline_settings: CommonSettings
) -> None:
    journey = Journey(full_pipeline, pipeline_settings)
    names = journey.names
    await journey.send("consent_updated", "web", MARKETING_ON)
    await journey.send("consent_updated", "web", MARKETING_OFF)
    before = await wait_for(
        lambda: _log_with(pipeline_settings, journey.customer_id, 2), what="logged decisions"
    )
    assert before.key_kept
    assert before.unreadable == 0
    subject = await _subject_of(pipeline_settings, journey)
    suppressions_path = f"/v1/customers/{journey.customer_id}/suppressions"
    in_force = from_json_bytes(SuppressionsNow, _get(full_pipeline, suppressions_path).content)
    assert [s.reason for s in in_force.suppressions] == ["consent_withdrawn"]

    erasure: dict[str, Any] = {
        "schema": "erasure/v1",
        "request_id": f"er-{journey.customer_id}",
        "customer_id": journey.customer_id,
        "requested_at": datetime.now(UTC).isoformat(),
    }
    key = journey.customer_id.encode()
    await produce(pipeline_settings, [(names.privacy_requests, key, orjson.dumps(erasure))])

    async def shredded() -> CustomerLog | None:
        found = await read_customer_log(pipeline_settings, journey.customer_id)
        return None if found.key_kept else found

    after = await wait_for(shredded, what="the customer's log key deleted")
    assert (after.records, after.unreadable) == ([], 0)
    # Still on the topic until retention, sealed, under a key id nothing links to
    # the customer any more; never under their customer id.
    log = await read_all(pipeline_settings, [names.decision_log])
    assert len([r for r in log if r.key == subject]) >= len(before.records)
    assert not any(r.key == journey.customer_id.encode() for r in log)
    in_force = from_json_bytes(SuppressionsNow, _get(full_pipeline, suppressions_path).content)
    assert in_force.suppressions == []
    timeline = _get(full_pipeline, f"/v1/customers/{journey.customer_id}/timeline")
    assert timeline.status_code == 404
