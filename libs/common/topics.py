"""Every topic Concierge reads or writes, with its key, value and retention.

This is the one place topic names are spelled. Contract topics are the
public surface (``../shared/contract.md``); internal topics carry the
``concierge.internal.`` prefix so they never collide with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from libs.contract.common import Channel

DAY_MS = 24 * 60 * 60 * 1000
CHANNELS: tuple[Channel, ...] = tuple(Channel)


class Cleanup(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"
    COMPACT_DELETE = "compact,delete"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    value: str
    partitions: int
    cleanup: Cleanup
    retention_ms: int | None
    internal: bool = False
    # A Faust table's changelog: written by the workers, created here so that a
    # worker never meets one it created a moment ago (see changelog_topics).
    changelog: bool = False
    extra_config: tuple[tuple[str, str], ...] = ()

    def config(self) -> dict[str, str]:
        """Topic-level configs Kafka should hold for this topic."""
        config = {"cleanup.policy": self.cleanup.value}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        config.update(self.extra_config)
        return config


@dataclass(frozen=True)
class TopicNames:
    """Resolved topic names for one deployment (prefix applied)."""

    prefix: str = ""

    def interactions(self, channel: Channel | str) -> str:
        return f"{self.prefix}interactions.{Channel(channel).value}"

    def actions(self, channel: Channel | str) -> str:
        return f"{self.prefix}actions.{Channel(channel).value}"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}interactions.dlq"

    @property
    def suppressions(self) -> str:
        return f"{self.prefix}suppressions"

    @property
    def suppressions_active(self) -> str:
        return f"{self.prefix}suppressions.active"

    @property
    def privacy_requests(self) -> str:
        return f"{self.prefix}privacy.requests"

    # The internal stream between the two stages.
    @property
    def resolved(self) -> str:
        return f"{self.prefix}concierge.internal.resolved"

    # One record per decision, sealed per customer (libs/pipeline/decision_log.py).
    @property
    def decision_log(self) -> str:
        return f"{self.prefix}concierge.internal.decisions"

    @property
    def dlq_replay_group_prefix(self) -> str:
        """Of the consumer groups that remember, per error code, what the operator
        replayed (``concierge dlq replay``)."""
        return f"{self.prefix}concierge-dlq-replay-"

    @property
    def console_replay_group_prefix(self) -> str:
        """The same for the console's replays, which go to channel topics only."""
        return f"{self.prefix}concierge-console-replay-"

    def changelog(self, service: str, table: str) -> str:
        """Faust's name for a table's changelog: ``<app id>-<table>-changelog``."""
        return f"{self.prefix}concierge-{service}-{table}-changelog"

    def channel_of_interactions_topic(self, topic: str) -> Channel | None:
        return self._interactions_channels.get(topic)

    @cached_property
    def _interactions_channels(self) -> dict[str, Channel]:
        # Asked once per input record: a lookup, not four string builds.
        return {self.interactions(channel): channel for channel in CHANNELS}


def contract_topics(names: TopicNames, partitions: int) -> list[TopicSpec]:
    """The public topics of contract v1, with the contract's cleanup and retention."""
    specs: list[TopicSpec] = []
    for channel in CHANNELS:
        specs.append(
            TopicSpec(
                names.interactions(channel),
                "identity string or none",
                "interaction/v1",
                partitions,
                Cleanup.DELETE,
                7 * DAY_MS,
            )
        )
    specs.append(
        TopicSpec(
            names.dlq, "as received", "dead-letter/v1", partitions, Cleanup.DELETE, 30 * DAY_MS
        )
    )
    for channel in CHANNELS:
        specs.append(
            TopicSpec(
                names.actions(channel),
                "customer_id",
                "action/v1",
                partitions,
                Cleanup.DELETE,
                7 * DAY_MS,
            )
        )
    # The event stream, starts and lifts in order per customer. Not compacted:
    # compaction by customer would hide an older suppression still in force
    # behind a newer one; a late subscriber reads `suppressions.active` first.
    specs.append(
        TopicSpec(
            names.suppressions,
            "customer_id",
            "suppression/v1",
            partitions,
            Cleanup.DELETE,
            30 * DAY_MS,
        )
    )
    # The latest value per customer is the whole set in force (a tombstone when none).
    specs.append(
        TopicSpec(
            names.suppressions_active,
            "customer_id",
            "suppressions-in-force/v1",
            partitions,
            Cleanup.COMPACT,
            None,
            extra_config=(("max.compaction.lag.ms", str(ERASED_WITHIN_MS)),),
        )
    )
    specs.append(
        TopicSpec(
            names.privacy_requests,
            "customer_id",
            "erasure/v1",
            partitions,
            Cleanup.DELETE,
            30 * DAY_MS,
        )
    )
    return specs


def internal_topics(
    names: TopicNames, partitions: int, decision_log_retention_ms: int = 30 * DAY_MS
) -> list[TopicSpec]:
    """The stream between Concierge's two stages and the decision log (changelogs
    are Faust's own)."""
    return [
        # Intake writes each resolved event once, keyed by customer_id; it also
        # carries identity merges and erasures, in order with the events.
        TopicSpec(
            names.resolved,
            "customer_id",
            "resolved event / merge / erasure",
            partitions,
            Cleanup.DELETE,
            7 * DAY_MS,
            internal=True,
        ),
        # Keyed like the resolved stream, so a customer's decisions are in the
        # partition of the same number. Deleted after the retention the operator
        # chooses; erased before that by deleting the customer's key.
        TopicSpec(
            names.decision_log,
            "customer_id",
            "decision-log/v1, sealed with the customer's key",
            partitions,
            Cleanup.DELETE,
            decision_log_retention_ms,
            internal=True,
        ),
    ]


# Deleted keys (erasures) leave a compacted changelog within a day, not whenever
# the log cleaner happens to reach their segment.
ERASED_WITHIN_MS = DAY_MS
# Identity resolution is one writer: intake's tables have one partition each.
IDENTITY_PARTITIONS = 1
DEDUPE_HORIZON_MS = 7 * DAY_MS  # intake's default dedupe horizon = input retention


def changelog_topics(names: TopicNames, partitions: int) -> list[TopicSpec]:
    """The changelogs of the stateful services' tables.

    Faust would create them as a worker starts, but a worker that created one a
    moment ago still holds group metadata that says it has no partitions, and
    its first table write fails (PartitionsMismatch): a new deployment would
    dead-letter its first events. Provisioning creates them beforehand, with
    the source topic's partitions. A unit test checks this list against the
    tables the services declare.
    """

    def spec(
        service: str,
        table: str,
        count: int,
        *,
        retention_ms: int | None = None,
    ) -> TopicSpec:
        return TopicSpec(
            names.changelog(service, table),
            "table key",
            f"{service} table {table}",
            count,
            Cleanup.COMPACT if retention_ms is None else Cleanup.COMPACT_DELETE,
            retention_ms,
            internal=True,
            changelog=True,
            extra_config=(("max.compaction.lag.ms", str(ERASED_WITHIN_MS)),),
        )

    return [
        spec("intake", "identifier-links", IDENTITY_PARTITIONS),
        spec("intake", "customer-identifiers", IDENTITY_PARTITIONS),
        # Time-bounded like the RocksDB TTL of the table (the dedupe horizon).
        spec("intake", "seen-event-ids", IDENTITY_PARTITIONS, retention_ms=DEDUPE_HORIZON_MS),
        # Co-partitioned with the resolved stream that stage 2 reads.
        spec("decision", "customer-contexts", partitions),
        spec("decision", "suppressions-in-force", partitions),
        spec("decision", "contact-history", partitions),
        # The decision log's per-customer keys: erasure's tombstone shreds the log.
        spec("decision", "decision-log-keys", partitions),
        spec("decision", "decision-timeline", partitions),
    ]


def all_topics(
    names: TopicNames, partitions: int, decision_log_retention_ms: int = 30 * DAY_MS
) -> list[TopicSpec]:
    return (
        contract_topics(names, partitions)
        + internal_topics(names, partitions, decision_log_retention_ms)
        + changelog_topics(names, partitions)
    )
