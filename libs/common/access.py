"""Who may do what on which topic and group: the ACLs the contract implies.

- a channel system's principal writes only ``interactions.<its channel>`` and
  reads only ``actions.<its channel>``, ``suppressions`` and
  ``suppressions.active``, in consumer groups named ``channel-<its channel>...``;
- each Concierge service reads and writes exactly the topics it uses, in its
  own group, and owns the topics named after its Faust app id (its table
  changelogs and Faust's leader topic);
- the operator principal provisions the topics (creates them, checks their
  configs), sends privacy requests, tails and replays dead letters (a replay
  goes back to the letter's source topic), tails the output topics and reads
  the stages' lag;
- the autoscaler's principal (KEDA) reads the decision stage's lag.

Creating ACLs themselves takes an admin principal (ALTER on the cluster).

Pure: ``acl_plan`` lists grants; provisioning (libs/common/acls.py) creates
or prints them, and a service checks at start-up that it can see its topics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from libs.common.decision_log_reader import LOG_KEYS_TABLE
from libs.common.topics import CHANNELS, TopicNames, all_topics
from libs.contract.common import Channel

SERVICES = ("intake", "decision", "gateway", "operator", "keda")


class Operation(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    CREATE = "CREATE"
    DESCRIBE = "DESCRIBE"
    DESCRIBE_CONFIGS = "DESCRIBE_CONFIGS"


class Resource(StrEnum):
    TOPIC = "TOPIC"
    GROUP = "GROUP"


class Pattern(StrEnum):
    LITERAL = "LITERAL"
    PREFIXED = "PREFIXED"


class Grant(NamedTuple):
    """One ALLOW ACL, from any host."""

    principal: str
    operation: Operation
    resource: Resource
    name: str
    pattern: Pattern = Pattern.LITERAL


@dataclass(frozen=True)
class Uses:
    """What one principal does: topics it reads and writes, groups it consumes in."""

    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    # Groups it joins (READ) and groups it only looks at (DESCRIBE: lag).
    groups: frozenset[str] = frozenset()
    group_prefixes: frozenset[str] = frozenset()
    described_groups: frozenset[str] = frozenset()
    # Topics it creates, reads and writes by name prefix (a Faust app's own).
    owned_topic_prefix: str | None = None
    # Topics it creates by name (provisioning) and topics it only looks at (lag).
    creates: frozenset[str] = frozenset()
    described: frozenset[str] = frozenset()

    @property
    def topics(self) -> frozenset[str]:
        return self.reads | self.writes | self.creates | self.described

    def covers(self, topic: str) -> bool:
        """Whether this principal uses the topic (by name, or as one it owns)."""
        owned = self.owned_topic_prefix
        return topic in self.topics or (owned is not None and topic.startswith(owned))


def service_uses(names: TopicNames, service: str) -> Uses:
    """What a Concierge service (or the operator) does on Kafka."""
    interactions = frozenset(names.interactions(channel) for channel in CHANNELS)
    actions = frozenset(names.actions(channel) for channel in CHANNELS)
    if service == "intake":
        return Uses(
            reads=interactions | {names.privacy_requests},
            writes=frozenset({names.resolved, names.dlq}),
            groups=frozenset({app_id(names, "intake")}),
            owned_topic_prefix=app_id(names, "intake") + "-",
        )
    if service == "decision":
        # It reads its outputs back on taking a partition over, and sends
        # expiries of quiet anonymous contexts to its own input.
        return Uses(
            reads=frozenset({names.resolved}) | actions | {names.suppressions},
            writes=actions
            | {
                names.suppressions,
                names.suppressions_active,
                names.dlq,
                names.resolved,
                names.decision_log,
            },
            groups=frozenset({app_id(names, "decision")}),
            owned_topic_prefix=app_id(names, "decision") + "-",
        )
    if service == "gateway":
        # Ingest on behalf of the channels; the action and suppression streams (no
        # group); the console's operator view: dead letters and their replay (to
        # the channel topics only, remembered per code by a group), lag per stage.
        return Uses(
            reads=actions | {names.suppressions, names.dlq},
            writes=interactions,
            group_prefixes=frozenset({names.console_replay_group_prefix}),
            described=frozenset({names.resolved}) | interactions | {names.privacy_requests},
            described_groups=frozenset({app_id(names, "intake"), app_id(names, "decision")}),
        )
    if service == "operator":
        registry = frozenset(spec.name for spec in all_topics(names, 1))
        return Uses(
            creates=registry,
            reads=actions
            | {names.dlq, names.suppressions, names.suppressions_active, names.resolved}
            | interactions
            | {names.privacy_requests}
            # `concierge decisions <customer>`: the log and the keys that open it.
            | {names.decision_log, names.changelog(*LOG_KEYS_TABLE)},
            # Privacy requests, and dead letters back to where they came from.
            writes=interactions | {names.privacy_requests, names.resolved},
            group_prefixes=frozenset({names.dlq_replay_group_prefix}),
            described_groups=frozenset({app_id(names, "intake"), app_id(names, "decision")}),
        )
    if service == "keda":
        # Lag-driven autoscaling of the decision stage (deploy/k8s).
        return Uses(
            described=frozenset({names.resolved}),
            described_groups=frozenset({app_id(names, "decision")}),
        )
    raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")


def channel_uses(names: TopicNames, channel: Channel) -> Uses:
    return Uses(
        reads=frozenset({names.actions(channel), names.suppressions, names.suppressions_active}),
        writes=frozenset({names.interactions(channel)}),
        group_prefixes=frozenset({channel_group_prefix(names, channel)}),
    )


def app_id(names: TopicNames, service: str) -> str:
    """A Faust service's app id: its consumer group and its topics' prefix."""
    return f"{names.prefix}concierge-{service}"


def channel_group_prefix(names: TopicNames, channel: Channel) -> str:
    return f"{names.prefix}channel-{channel.value}"


def grants_for(principal: str, uses: Uses) -> list[Grant]:
    grants: list[Grant] = []

    def topic(operation: Operation, name: str, pattern: Pattern = Pattern.LITERAL) -> None:
        grants.append(Grant(principal, operation, Resource.TOPIC, name, pattern))

    for name in sorted(uses.topics):
        if name in uses.reads:
            topic(Operation.READ, name)
        if name in uses.writes:
            topic(Operation.WRITE, name)
        if name in uses.creates:
            topic(Operation.CREATE, name)
        if name not in uses.reads | uses.writes:
            topic(Operation.DESCRIBE, name)
        # READ and WRITE imply DESCRIBE; DESCRIBE_CONFIGS lets a service check
        # the topic's settings against the registry at start-up.
        topic(Operation.DESCRIBE_CONFIGS, name)
    if uses.owned_topic_prefix is not None:
        for operation in (
            Operation.CREATE,
            Operation.READ,
            Operation.WRITE,
            Operation.DESCRIBE_CONFIGS,
        ):
            topic(operation, uses.owned_topic_prefix, Pattern.PREFIXED)
    for group in sorted(uses.groups):
        grants.append(Grant(principal, Operation.READ, Resource.GROUP, group))
    for prefix in sorted(uses.group_prefixes):
        grants.append(Grant(principal, Operation.READ, Resource.GROUP, prefix, Pattern.PREFIXED))
    for group in sorted(uses.described_groups):
        grants.append(Grant(principal, Operation.DESCRIBE, Resource.GROUP, group))
    return grants


@dataclass(frozen=True)
class Principals:
    """The principal of each service and channel system, as the broker names them."""

    services: Mapping[str, str] = field(
        default_factory=lambda: {service: f"User:concierge-{service}" for service in SERVICES}
    )
    channels: Mapping[Channel, str] = field(
        default_factory=lambda: {channel: f"User:channel-{channel.value}" for channel in CHANNELS}
    )

    def with_overrides(self, overrides: Iterable[str]) -> Principals:
        """``name=User:x`` pairs, a service name or a channel name on the left."""
        services = dict(self.services)
        channels = dict(self.channels)
        for item in overrides:
            who, sep, principal = item.partition("=")
            if not sep or ":" not in principal:
                raise ValueError(f"expected NAME=User:principal, got {item!r}")
            if who in services:
                services[who] = principal
            elif who in {channel.value for channel in CHANNELS}:
                channels[Channel(who)] = principal
            else:
                known = ", ".join([*SERVICES, *(c.value for c in CHANNELS)])
                raise ValueError(f"unknown name {who!r} in {item!r}; one of {known}")
        return Principals(services, channels)


def acl_plan(names: TopicNames, principals: Principals) -> list[Grant]:
    """Every grant the contract implies, services first, then channel systems."""
    grants: list[Grant] = []
    for service in SERVICES:
        grants.extend(grants_for(principals.services[service], service_uses(names, service)))
    for channel in CHANNELS:
        grants.extend(grants_for(principals.channels[channel], channel_uses(names, channel)))
    return grants


def kafka_acls_commands(grants: Iterable[Grant], bootstrap: str) -> list[str]:
    """The same grants as ``kafka-acls.sh`` commands, one per principal and resource."""
    by_resource: dict[tuple[str, Resource, str, Pattern], list[Operation]] = {}
    for grant in grants:
        key = (grant.principal, grant.resource, grant.name, grant.pattern)
        by_resource.setdefault(key, []).append(grant.operation)
    commands = []
    for (principal, resource, name, pattern), operations in by_resource.items():
        flags = " ".join(f"--operation {op.value.title().replace('_', '')}" for op in operations)
        kind = "--topic" if resource is Resource.TOPIC else "--group"
        pattern_flag = " --resource-pattern-type prefixed" if pattern is Pattern.PREFIXED else ""
        commands.append(
            f"kafka-acls.sh --bootstrap-server {bootstrap} --command-config admin.properties "
            f"--add --allow-principal '{principal}' {flags} {kind} '{name}'{pattern_flag}"
        )
    return commands
