"""Strimzi ``KafkaTopic`` resources from the topic registry (libs/common/topics.py).

For clusters whose topics are managed by Strimzi's Topic Operator instead of
``concierge provision``: the same topics, partitions and configs, as resources
to commit next to the cluster's (``concierge strimzi-topics``). The Topic
Operator then creates and reconciles them; ``concierge provision --check``
still reports drift.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames, TopicSpec, all_topics

KAFKA_TOPIC_API_VERSION = "kafka.strimzi.io/v1beta2"
CLUSTER_LABEL = "strimzi.io/cluster"
# A resource name is a DNS-1123 subdomain: lowercase alphanumerics, "-" and ".".
_NOT_ALLOWED = re.compile(r"[^a-z0-9.-]+")
# Each dot-separated label starts and ends with an alphanumeric.
_LOOSE_DOT = re.compile(r"[-.]*\.[-.]*")
_MAX_NAME = 253


def resource_name(topic: str) -> str:
    """The topic's name when it is a valid resource name; otherwise a cleaned one
    with a short hash of the real name, so two topics never share a resource."""
    cleaned = _LOOSE_DOT.sub(".", _NOT_ALLOWED.sub("-", topic.lower())).strip("-.")
    if cleaned == topic and len(topic) <= _MAX_NAME:
        return topic
    digest = hashlib.sha256(topic.encode()).hexdigest()[:8]
    return f"{cleaned[: _MAX_NAME - 9]}-{digest}"


def kafka_topic(spec: TopicSpec, cluster: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": KAFKA_TOPIC_API_VERSION,
        "kind": "KafkaTopic",
        "metadata": {
            "name": resource_name(spec.name),
            "labels": {CLUSTER_LABEL: cluster, "app.kubernetes.io/part-of": "concierge"},
        },
        "spec": {
            # Always explicit: the resource name may differ from the topic's.
            "topicName": spec.name,
            "partitions": spec.partitions,
            "replicas": replicas,
            "config": spec.config(),
        },
    }


def kafka_topics(settings: CommonSettings, cluster: str) -> list[dict[str, Any]]:
    """Every topic ``concierge provision`` would create, as KafkaTopic resources."""
    specs = all_topics(TopicNames(settings.topic_prefix), settings.partitions)
    return [kafka_topic(spec, cluster, settings.replication_factor) for spec in specs]
