"""Provisioning creates every table changelog, as the services declare them.

If a service adds a table (or changes one's partitions or configs) without
registering its changelog, a new deployment would dead-letter its first events
(docs/reliability.md, failure mode 1): this test names the difference.
"""

from __future__ import annotations

from pathlib import Path

import faust

from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames, changelog_topics
from services.context.app import create_app as context_app
from services.context.settings import ContextSettings
from services.decision.app import create_app as decision_app
from services.decision.settings import DecisionSettings
from services.identity.app import create_app as identity_app
from services.identity.settings import IdentitySettings


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
        identity_app(IdentitySettings(common=common, data_dir=tmp_path / "identity")),
        context_app(ContextSettings(common=common, data_dir=tmp_path / "context")),
        decision_app(DecisionSettings(common=common, data_dir=tmp_path / "decision")),
    ]
    registered = {
        spec.name: (spec.partitions, spec.config())
        for spec in changelog_topics(TopicNames("t."), partitions=6)
    }
    assert declared_changelogs(apps) == registered
