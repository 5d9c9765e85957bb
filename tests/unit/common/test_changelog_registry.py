"""Provisioning creates every table changelog, as the services declare them.

If a service adds a table (or changes one's partitions or configs) without
registering its changelog, a new deployment would dead-letter its first events
(docs/reliability.md, failure mode 1): this test names the difference.
"""

from __future__ import annotations

from pathlib import Path

import faust
from pydantic import SecretStr

from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames, changelog_topics
from services.decision.app import create_app as decision_app
from services.decision.settings import DecisionSettings
from services.intake.app import create_app as intake_app
from services.intake.settings import IntakeSettings


def declared_changelogs(apps: list[faust.App]) -> dict[str, tuple[int, dict[str, str]]]:
    declared = {}
    for app in apps:
        for table in app.tables.values():
            topic = table.changelog_topic
            configs = {"cleanup.policy": "compact", **dict(topic.config or {})}
            declared[topic.get_topic_name()] = (int(topic.partitions), configs)
    return declared


def test_every_table_changelog_is_registered_with_its_partitions_and_configs(
    tmp_path: Path,
) -> None:
    common = CommonSettings(topic_prefix="t.", partitions=6)
    apps = [
        intake_app(
            IntakeSettings(
                common=common,
                data_dir=tmp_path / "intake",
                pii_key=SecretStr("a-test-key-0123456789"),
            )
        ),
        decision_app(DecisionSettings(common=common, data_dir=tmp_path / "decision")),
    ]
    registered = {
        spec.name: (spec.partitions, spec.config())
        for spec in changelog_topics(TopicNames("t."), partitions=6)
    }
    assert declared_changelogs(apps) == registered
