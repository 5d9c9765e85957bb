from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from services.cli.stack import Stack
from tests.support.stack import running_stack


@pytest.fixture(scope="module")
async def pipeline_settings(kafka_bootstrap: str) -> CommonSettings:
    settings = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"p{uuid.uuid4().hex[:8]}.",
        partitions=2,
        # Soon enough for a test to see the watchdog commit past commit markers.
        partition_stall_seconds=10.0,
        # Lag metrics fresh enough for a test to watch them drain.
        lag_export_seconds=1.0,
    )
    report = await provision(settings)
    assert report.ok, report
    return settings


@pytest.fixture(scope="module")
def names(pipeline_settings: CommonSettings) -> TopicNames:
    return TopicNames(pipeline_settings.topic_prefix)


@pytest.fixture(scope="module")
def pipeline(
    pipeline_settings: CommonSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Both stages, each its own process: intake (validation, identity) and
    decision (context, decision)."""
    run_dir: Path = tmp_path_factory.mktemp("stack")
    with running_stack(pipeline_settings, run_dir, "intake", "decision") as stack:
        yield stack


@pytest.fixture(scope="module")
def full_pipeline(pipeline: Stack) -> Stack:
    """Every stage: since context and decision share a stage, the same as ``pipeline``."""
    return pipeline
