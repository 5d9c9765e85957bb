from __future__ import annotations

from libs.common.topics import DAY_MS, Cleanup, TopicNames, all_topics, contract_topics
from libs.contract.common import Channel


def test_every_contract_topic_is_registered_with_its_cleanup_and_retention() -> None:
    specs = {spec.name: spec for spec in contract_topics(TopicNames(), partitions=6)}
    expected = {f"interactions.{c}" for c in Channel} | {f"actions.{c}" for c in Channel}
    expected |= {"interactions.dlq", "suppressions", "suppressions.active", "privacy.requests"}
    assert set(specs) == expected
    assert specs["interactions.web"].retention_ms == 7 * DAY_MS
    assert specs["interactions.dlq"].retention_ms == 30 * DAY_MS
    # The stream of starts and lifts is not compacted: compaction by customer
    # would hide an older suppression in force behind a newer one.
    assert specs["suppressions"].cleanup is Cleanup.DELETE
    # The set in force: the latest value per customer is all of it.
    assert specs["suppressions.active"].cleanup is Cleanup.COMPACT
    assert specs["suppressions.active"].retention_ms is None
    assert specs["actions.phone"].key == "customer_id"
    assert all(spec.partitions == 6 for spec in specs.values())


def test_a_prefix_applies_to_every_topic_and_internal_topics_never_collide() -> None:
    specs = all_topics(TopicNames(prefix="dev."), partitions=2)
    assert all(spec.name.startswith("dev.") for spec in specs)
    streams = [spec.name for spec in specs if spec.internal and not spec.changelog]
    changelogs = [spec.name for spec in specs if spec.changelog]
    assert streams
    assert changelogs
    assert all(name.startswith("dev.concierge.internal.") for name in streams)
    # Faust names changelogs after the app id, which carries the prefix.
    assert all(name.startswith("dev.concierge-") for name in changelogs)
    assert all(spec.internal for spec in specs if spec.changelog)


def test_the_channel_of_an_interactions_topic_is_known() -> None:
    names = TopicNames(prefix="p.")
    assert names.channel_of_interactions_topic("p.interactions.store") is Channel.store
    assert names.channel_of_interactions_topic("interactions.store") is None
    assert names.channel_of_interactions_topic("p.interactions.dlq") is None


def test_topic_config_is_what_kafka_is_asked_to_hold() -> None:
    spec = next(s for s in contract_topics(TopicNames(), 1) if s.name == "suppressions")
    assert spec.config() == {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}


def test_two_stages_one_internal_stream_and_each_stages_own_changelogs() -> None:
    specs = all_topics(TopicNames(prefix="p."), partitions=4)
    streams = {spec.name: spec for spec in specs if spec.internal and not spec.changelog}
    assert set(streams) == {"p.concierge.internal.resolved", "p.concierge.internal.decisions"}
    assert streams["p.concierge.internal.resolved"].partitions == 4
    # Co-partitioned with the stream it logs the decisions of.
    assert streams["p.concierge.internal.decisions"].partitions == 4
    changelogs = {spec.name: spec.partitions for spec in specs if spec.changelog}
    # Intake is identity's single writer: one partition per table. Decision's
    # tables are co-partitioned with the resolved stream it reads.
    assert changelogs == {
        "p.concierge-intake-identifier-links-changelog": 1,
        "p.concierge-intake-customer-identifiers-changelog": 1,
        "p.concierge-intake-seen-event-ids-changelog": 1,
        "p.concierge-decision-customer-contexts-changelog": 4,
        "p.concierge-decision-suppressions-in-force-changelog": 4,
        "p.concierge-decision-contact-history-changelog": 4,
        "p.concierge-decision-decision-log-keys-changelog": 4,
        "p.concierge-decision-decision-timeline-changelog": 4,
    }


def test_the_decision_log_is_deleted_after_the_retention_asked_for() -> None:
    specs = all_topics(TopicNames(), partitions=2, decision_log_retention_ms=7 * DAY_MS)
    spec = next(s for s in specs if s.name == "concierge.internal.decisions")
    assert spec.config() == {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}
    default = next(s for s in all_topics(TopicNames(), 2) if s.name == spec.name)
    assert default.retention_ms == 30 * DAY_MS
