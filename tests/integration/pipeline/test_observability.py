"""Each stage's /metrics: process and build info, and its group's lag per partition,
read from the broker while the stage runs."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import defaultdict

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from services.cli.stack import Stack
from tests.support.events import interaction
from tests.support.kafka_io import event_bytes, produce, wait_for
from tests.support.stack import free_port

pytestmark = pytest.mark.integration


def _samples(stack: Stack, service: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = httpx.get(f"{stack.url(service)}/metrics", timeout=5).text
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name].append((sample.labels, sample.value))
    return found


def test_the_image_health_check_finds_the_ready_service_listening_on_its_port(
    pipeline: Stack,
) -> None:
    """`concierge ready` (the Dockerfile's HEALTHCHECK) against the real workers."""
    env = {
        **os.environ,
        "CONCIERGE_INTAKE_HTTP_PORT": str(pipeline.ports["intake"]),
        "CONCIERGE_DECISION_HTTP_PORT": str(free_port()),
        "CONCIERGE_GATEWAY_HTTP_PORT": str(free_port()),
    }
    ready = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "ready"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert (ready.returncode, ready.stdout.strip()) == (0, "ready: intake")
    env["CONCIERGE_INTAKE_HTTP_PORT"] = str(free_port())
    nothing = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "ready"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert nothing.returncode == 1
    assert "no Concierge service listens" in nothing.stderr


def test_every_stage_exports_process_gc_and_build_info(pipeline: Stack) -> None:
    for service in ("intake", "decision"):
        samples = _samples(pipeline, service)
        assert samples["process_resident_memory_bytes"][0][1] > 0
        assert samples["process_start_time_seconds"][0][1] > 0
        assert samples["python_gc_collections_total"]
        ((labels, value),) = samples["concierge_build_info"]
        assert (labels["service"], labels["version"], value) == (service, "0.1.0", 1.0)


async def test_each_stage_freezes_what_survives_collection_and_times_every_pause(
    pipeline: Stack,
) -> None:
    for service in ("intake", "decision"):

        def frozen_after_start(service: str = service) -> bool:
            ((_, frozen),) = _samples(pipeline, service)["concierge_gc_frozen_objects"]
            return frozen > 0

        # The first freeze comes one gc_freeze_seconds (5 s) after start-up.
        await wait_for(frozen_after_start, timeout=30, what=f"{service} froze its heap")
        samples = _samples(pipeline, service)
        (young,) = [
            value
            for labels, value in samples["concierge_gc_pause_seconds_count"]
            if labels["generation"] == "0"
        ]
        assert young > 0


async def test_each_stage_samples_how_late_its_event_loop_runs(pipeline: Stack) -> None:
    for service in ("intake", "decision"):

        def sampled(service: str = service) -> bool:
            ((_, count),) = _samples(pipeline, service)["concierge_event_loop_delay_seconds_count"]
            return count >= 10  # ten samples a second once the worker runs

        await wait_for(sampled, timeout=30, what=f"{service} sampled its event loop")
        samples = _samples(pipeline, service)
        ((_, total),) = samples["concierge_event_loop_delay_seconds_sum"]
        ((_, count),) = samples["concierge_event_loop_delay_seconds_count"]
        assert 0 <= total / count < 1.0  # an idle stage's loop is late by ms, not seconds


async def test_each_stage_exports_its_groups_lag_and_committed_offset_per_partition(
    pipeline: Stack, pipeline_settings: CommonSettings, names: TopicNames
) -> None:
    cookies = [f"cookie-{uuid.uuid4().hex}" for _ in range(6)]
    events = [
        interaction("page_view", "web", {"anonymous_id": c}, {"page_type": "home"}) for c in cookies
    ]
    landed = await produce(
        pipeline_settings,
        [
            (names.interactions("web"), c.encode(), event_bytes(e))
            for c, e in zip(cookies, events, strict=True)
        ],
    )
    produced_to = {(p.partition, p.offset + 1) for p in landed}
    intake_group = f"{pipeline_settings.topic_prefix}concierge-intake"

    def intake_drained_past_our_records() -> bool:
        samples = _samples(pipeline, "intake")
        web = {
            int(labels["partition"]): value
            for labels, value in samples["concierge_consumer_committed_offset"]
            if labels["group"] == intake_group and labels["topic"] == names.interactions("web")
        }
        lags = [
            value
            for labels, value in samples["concierge_consumer_lag"]
            if labels["group"] == intake_group and labels["topic"] == names.interactions("web")
        ]
        return (
            len(web) == pipeline_settings.partitions
            and all(web[partition] >= end for partition, end in produced_to)
            and lags == [0.0] * pipeline_settings.partitions
        )

    await wait_for(intake_drained_past_our_records, timeout=60, what="intake's lag metrics drain")

    decision_group = f"{pipeline_settings.topic_prefix}concierge-decision"

    def decision_committed_what_intake_resolved() -> bool:
        samples = _samples(pipeline, "decision")
        resolved = [
            (labels["partition"], value)
            for labels, value in samples["concierge_consumer_committed_offset"]
            if labels["group"] == decision_group and labels["topic"] == names.resolved
        ]
        lags = [
            value
            for labels, value in samples["concierge_consumer_lag"]
            if labels["group"] == decision_group
        ]
        # Every event forwarded one resolved record: at least ours are committed.
        return (
            len(resolved) == pipeline_settings.partitions
            and sum(value for _, value in resolved if value > 0) >= len(events)
            and lags == [0.0] * pipeline_settings.partitions
        )

    await wait_for(
        decision_committed_what_intake_resolved, timeout=60, what="decision's lag metrics drain"
    )
