"""`concierge strimzi-topics`: every provisioned topic as a Strimzi KafkaTopic."""

from __future__ import annotations

import re

import pytest
import yaml
from typer.testing import CliRunner

from libs.common.settings import CommonSettings
from libs.common.strimzi import kafka_topics, resource_name
from libs.common.topics import TopicNames, all_topics
from services.cli.main import app

DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@pytest.mark.parametrize("prefix", ["", "prod.", "Team_A--"])
def test_every_topic_is_a_resource_with_the_registrys_partitions_and_configs(prefix: str) -> None:
    settings = CommonSettings(topic_prefix=prefix, partitions=12, replication_factor=3)
    resources = kafka_topics(settings, "my-cluster")
    specs = {spec.name: spec for spec in all_topics(TopicNames(prefix), 12)}
    assert len(resources) == len(specs)
    names = [resource["metadata"]["name"] for resource in resources]
    assert len(set(names)) == len(names)
    for resource in resources:
        assert resource["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert resource["kind"] == "KafkaTopic"
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == "my-cluster"
        assert DNS_SUBDOMAIN.fullmatch(resource["metadata"]["name"])
        spec = specs[resource["spec"]["topicName"]]
        assert resource["spec"]["partitions"] == spec.partitions
        assert resource["spec"]["replicas"] == 3
        assert resource["spec"]["config"] == spec.config()
    # Identity's tables have one partition; decision's follow the setting.
    changelog = specs[TopicNames(prefix).changelog("intake", "identifier-links")]
    assert changelog.partitions == 1


def test_a_valid_topic_name_is_its_own_resource_name() -> None:
    assert resource_name("interactions.web") == "interactions.web"
    assert resource_name("Team_A.interactions.web") != resource_name("team-a.interactions.web")


def test_the_command_prints_the_resources_as_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCIERGE_TOPIC_PREFIX", "prod.")
    result = CliRunner().invoke(app, ["strimzi-topics", "--cluster", "kafka-a"])
    assert result.exit_code == 0, result.output
    documents = list(yaml.safe_load_all(result.output))
    assert {doc["spec"]["topicName"] for doc in documents} == {
        spec.name for spec in all_topics(TopicNames("prod."), 4)
    }
