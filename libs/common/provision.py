"""Create every Concierge topic with its partitions, cleanup and retention.

Idempotent: topics that exist are left alone, but any difference between what
they hold and what the registry says (partitions, cleanup policy, retention)
is reported as drift, never silently ignored. Drift is not "fixed"
automatically: adding partitions would move keys between partitions and break
per-customer ordering, so an operator decides.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from libs.common.broker_probe import wait_for_broker
from libs.common.kafka import create_admin
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames, TopicSpec, all_topics

UNKNOWN_TOPIC_OR_PARTITION = 3
TOPIC_AUTHORIZATION_FAILED = 29
VISIBLE_WITHIN_SECONDS = 30.0


@dataclass(frozen=True)
class Drift:
    topic: str
    setting: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.setting} is {self.actual}, the registry says {self.expected}"


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    # Topics the principal may not describe (or whose configs it may not read).
    denied: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drift and not self.missing and not self.denied


async def _partition_counts(
    admin: AIOKafkaAdminClient, names: list[str], denied: list[str] | None = None
) -> dict[str, int]:
    """Partitions of the topics that exist; topics not authorized go to ``denied``."""
    described = await admin.describe_topics(names)
    counts = {}
    for entry in described:
        if entry["error_code"] == TOPIC_AUTHORIZATION_FAILED:
            if denied is not None:
                denied.append(entry["topic"])
        elif entry["error_code"] != UNKNOWN_TOPIC_OR_PARTITION:
            counts[entry["topic"]] = len(entry["partitions"])
    return counts


async def _topic_configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    configs: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        payload: dict[str, Any] = response.to_object()
        for resource in payload["resources"]:
            if resource["error_code"] == TOPIC_AUTHORIZATION_FAILED:
                continue  # left out: reported as denied by the caller
            configs[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]
            }
    return configs


def find_drift(spec: TopicSpec, partitions: int, config: dict[str, str]) -> list[Drift]:
    drift = []
    if partitions != spec.partitions:
        drift.append(Drift(spec.name, "partitions", str(spec.partitions), str(partitions)))
    for key, expected in spec.config().items():
        actual = config.get(key, "<unset>")
        # Kafka reports "compact,delete" in either order depending on how it was set.
        if key == "cleanup.policy":
            same = set(actual.split(",")) == set(expected.split(","))
        else:
            same = actual == expected
        if not same:
            drift.append(Drift(spec.name, key, expected, actual))
    return drift


async def _wait_visible(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Return once every created topic shows in the broker's metadata: a worker started
    right after provisioning checks for its topics, and a just-started broker can
    answer that check before its metadata has them."""
    try:
        async with asyncio.timeout(VISIBLE_WITHIN_SECONDS):
            while names:
                counts = await _partition_counts(admin, names)
                if all(counts.get(name, 0) > 0 for name in names):
                    return
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise TimeoutError(
            f"created topics not visible within {VISIBLE_WITHIN_SECONDS:.0f}s"
        ) from None


async def provision_topics(
    admin: AIOKafkaAdminClient,
    specs: list[TopicSpec],
    replication_factor: int,
    *,
    create: bool = True,
) -> ProvisionReport:
    report = ProvisionReport()
    names = [spec.name for spec in specs]
    existing = await _partition_counts(admin, names, report.denied)
    to_create = [
        spec for spec in specs if spec.name not in existing and spec.name not in report.denied
    ]
    if create and to_create:
        new_topics = [
            NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=spec.config())
            for spec in to_create
        ]
        for topic in new_topics:
            try:
                await admin.create_topics([topic])
                report.created.append(topic.name)
            except TopicAlreadyExistsError:
                # Another provisioner won the race; treat it as existing and check it.
                existing[topic.name] = -1
        await _wait_visible(admin, report.created)
    elif to_create:
        report.missing.extend(spec.name for spec in to_create)
    existing_specs = [spec for spec in specs if spec.name in existing]
    if any(existing[spec.name] == -1 for spec in existing_specs):
        existing.update(await _partition_counts(admin, [s.name for s in existing_specs]))
    configs = await _topic_configs(admin, [spec.name for spec in existing_specs])
    for spec in existing_specs:
        if spec.name not in configs:
            report.denied.append(spec.name)
            continue
        report.existing.append(spec.name)
        report.drift.extend(find_drift(spec, existing[spec.name], configs[spec.name]))
    return report


async def provision(
    settings: CommonSettings, *, create: bool = True, only: Callable[[str], bool] | None = None
) -> ProvisionReport:
    """``only``: check just the topics it accepts (a service's own, under its ACLs)."""
    specs = all_topics(
        TopicNames(settings.topic_prefix),
        settings.partitions,
        settings.decision_log_retention_ms,
    )
    if only is not None:
        specs = [spec for spec in specs if only(spec.name)]
    await wait_for_broker(settings, settings.broker_wait_seconds)
    admin = create_admin(settings, client_id="concierge-provision")
    await admin.start()
    try:
        return await provision_topics(admin, specs, settings.replication_factor, create=create)
    finally:
        await admin.close()


def render(report: ProvisionReport) -> str:
    lines = [f"created {name}" for name in report.created]
    lines += [f"missing {name}" for name in report.missing]
    lines += [f"drift   {item}" for item in report.drift]
    lines += [f"denied  {name}" for name in report.denied]
    lines.append(
        f"{len(report.created)} created, {len(report.existing)} existing, "
        f"{len(report.missing)} missing, {len(report.drift)} drifted"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create or check Concierge's Kafka topics.")
    parser.add_argument("--check", action="store_true", help="report only; create nothing")
    args = parser.parse_args(argv)
    report = asyncio.run(provision(CommonSettings(), create=not args.check))
    print(render(report))
    return 0 if report.ok else 2


if __name__ == "__main__":
    sys.exit(main())
