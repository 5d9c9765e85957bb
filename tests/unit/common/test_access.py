"""The ACLs the contract implies (libs/common/access.py)."""

from __future__ import annotations

import pytest

from libs.common.access import (
    SERVICES,
    Grant,
    Operation,
    Pattern,
    Principals,
    Resource,
    acl_plan,
    channel_uses,
    kafka_acls_commands,
    service_uses,
)
from libs.common.topics import CHANNELS, TopicNames, all_topics
from libs.contract.common import Channel

NAMES = TopicNames("p.")


def grants_of(principal: str) -> set[tuple[Operation, Resource, str, Pattern]]:
    return {
        (g.operation, g.resource, g.name, g.pattern)
        for g in acl_plan(NAMES, Principals())
        if g.principal == principal
    }


def test_a_channel_principal_writes_its_interactions_and_reads_its_actions_only() -> None:
    topic, group = Resource.TOPIC, Resource.GROUP
    literal, prefixed = Pattern.LITERAL, Pattern.PREFIXED
    assert grants_of("User:channel-web") == {
        (Operation.WRITE, topic, "p.interactions.web", literal),
        (Operation.DESCRIBE_CONFIGS, topic, "p.interactions.web", literal),
        (Operation.READ, topic, "p.actions.web", literal),
        (Operation.DESCRIBE_CONFIGS, topic, "p.actions.web", literal),
        (Operation.READ, topic, "p.suppressions", literal),
        (Operation.DESCRIBE_CONFIGS, topic, "p.suppressions", literal),
        (Operation.READ, topic, "p.suppressions.active", literal),
        (Operation.DESCRIBE_CONFIGS, topic, "p.suppressions.active", literal),
        (Operation.READ, group, "p.channel-web", prefixed),
    }


def test_services_get_exactly_the_topics_they_use() -> None:
    intake = service_uses(NAMES, "intake")
    assert intake.reads == {NAMES.interactions(c) for c in CHANNELS} | {NAMES.privacy_requests}
    assert intake.writes == {NAMES.resolved, NAMES.dlq}
    assert intake.groups == {"p.concierge-intake"}
    decision = service_uses(NAMES, "decision")
    assert NAMES.resolved in decision.reads
    assert not any(NAMES.interactions(c) in decision.topics for c in CHANNELS)
    gateway = service_uses(NAMES, "gateway")
    # Ingest, and the console's dead-letter replay: to the channel topics only, never
    # to concierge.internal.resolved, which stage 2 trusts.
    assert gateway.writes == {NAMES.interactions(c) for c in CHANNELS}
    # The action and suppression streams, and the operator view's dead letters.
    assert gateway.reads == {NAMES.actions(c) for c in CHANNELS} | {
        NAMES.suppressions,
        NAMES.dlq,
    }
    assert not gateway.groups
    assert gateway.group_prefixes == {NAMES.console_replay_group_prefix}


def test_every_topic_is_used_provisioned_by_the_operator_and_changelogs_are_owned() -> None:
    operator = service_uses(NAMES, "operator")
    for spec in all_topics(NAMES, 2):
        assert spec.name in operator.creates
        users = [
            s for s in SERVICES if s != "operator" and service_uses(NAMES, s).covers(spec.name)
        ]
        if spec.changelog:
            owner = "intake" if "concierge-intake-" in spec.name else "decision"
            assert users == [owner], spec.name
        else:
            assert users, f"no service uses {spec.name}"


def test_the_autoscaler_only_describes_the_decision_stages_lag() -> None:
    assert grants_of("User:concierge-keda") == {
        (Operation.DESCRIBE, Resource.TOPIC, NAMES.resolved, Pattern.LITERAL),
        (Operation.DESCRIBE_CONFIGS, Resource.TOPIC, NAMES.resolved, Pattern.LITERAL),
        (Operation.DESCRIBE, Resource.GROUP, "p.concierge-decision", Pattern.LITERAL),
    }


def test_no_channel_principal_touches_another_channels_topics() -> None:
    for channel in CHANNELS:
        uses = channel_uses(NAMES, channel)
        for other in CHANNELS:
            if other is not channel:
                assert NAMES.interactions(other) not in uses.topics
                assert NAMES.actions(other) not in uses.topics
        assert NAMES.actions(channel) not in uses.writes
        assert NAMES.resolved not in uses.topics
        assert NAMES.dlq not in uses.topics


def test_principals_can_be_renamed_and_a_typo_is_refused() -> None:
    renamed = Principals().with_overrides(["decision=User:svc-dec", "web=User:shop"])
    assert renamed.services["decision"] == "User:svc-dec"
    assert renamed.channels[Channel.web] == "User:shop"
    with pytest.raises(ValueError, match="unknown name 'decisoin'"):
        Principals().with_overrides(["decisoin=User:x"])
    with pytest.raises(ValueError, match="expected NAME=User:principal"):
        Principals().with_overrides(["decision"])


def test_printed_acls_are_kafka_acls_commands_one_per_principal_and_resource() -> None:
    grants = [
        Grant("User:a", Operation.READ, Resource.TOPIC, "t"),
        Grant("User:a", Operation.DESCRIBE_CONFIGS, Resource.TOPIC, "t"),
        Grant("User:a", Operation.READ, Resource.GROUP, "g-", Pattern.PREFIXED),
    ]
    assert kafka_acls_commands(grants, "broker:9093") == [
        "kafka-acls.sh --bootstrap-server broker:9093 --command-config admin.properties "
        "--add --allow-principal 'User:a' --operation Read --operation DescribeConfigs "
        "--topic 't'",
        "kafka-acls.sh --bootstrap-server broker:9093 --command-config admin.properties "
        "--add --allow-principal 'User:a' --operation Read --group 'g-' "
        "--resource-pattern-type prefixed",
    ]
