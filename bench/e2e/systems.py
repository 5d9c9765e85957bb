"""The systems under test: what each reads, writes, runs, and is judged on.

Every system gets its own topic prefix with Concierge's full topic set (same
names and partitions), so payloads, partitions and topic shapes are identical;
only what sits between input and output differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from libs.common.topics import CHANNELS, TopicNames

KAFKA_SINK = "kafka-sink"
RELAY_ONE_HOP = "relay-1-hop"
RELAY_CHAIN = "relay-chain"
CONCIERGE = "concierge"
ALL_SYSTEMS = (KAFKA_SINK, RELAY_ONE_HOP, RELAY_CHAIN, CONCIERGE)
CONCIERGE_SERVICES = ("intake", "decision")


@dataclass(frozen=True, slots=True)
class RelayHop:
    """One bare relay process: consume, parse JSON, produce."""

    name: str
    group: str
    inputs: tuple[str, ...]
    # A topic name, or a template with ``{channel}`` filled from the event.
    output: str
    # ``event_id``, ``identity`` (the customer's identifier) or ``same`` (keep the key).
    key: str


@dataclass(frozen=True, slots=True)
class SystemPlan:
    name: str
    description: str
    prefix: str
    # Output topic -> the stage it evidences.
    topic_stages: dict[str, str]
    # The stage the latency target applies to, and the stage every event reaches
    # (throughput and completion are counted there).
    primary_stage: str
    every_stage: str
    # Consumer group -> the input topics whose committed offsets measure its lag.
    groups: dict[str, tuple[str, ...]]
    relays: tuple[RelayHop, ...] = field(default=())

    @property
    def names(self) -> TopicNames:
        return TopicNames(self.prefix)

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.topic_stages.values()))


def _interactions(names: TopicNames) -> tuple[str, ...]:
    return tuple(names.interactions(channel) for channel in CHANNELS)


def _actions(names: TopicNames) -> tuple[str, ...]:
    return tuple(names.actions(channel) for channel in CHANNELS)


def _actions_template(names: TopicNames) -> str:
    return f"{names.prefix}actions.{{channel}}"


def _internal_stages(names: TopicNames) -> dict[str, str]:
    """Every hop's output, so the report can say where the time goes, stage by stage."""
    return {names.resolved: "resolved"}


def kafka_sink(prefix: str) -> SystemPlan:
    names = TopicNames(prefix)
    return SystemPlan(
        name=KAFKA_SINK,
        description="generator -> interactions.* -> consumer (Kafka alone)",
        prefix=prefix,
        topic_stages=dict.fromkeys(_interactions(names), "output"),
        primary_stage="output",
        every_stage="output",
        groups={},
    )


def relay_one_hop(prefix: str) -> SystemPlan:
    names = TopicNames(prefix)
    hop = RelayHop(
        "relay", f"{prefix}relay-1", _interactions(names), _actions_template(names), "identity"
    )
    return SystemPlan(
        name=RELAY_ONE_HOP,
        description="interactions.* -> one aiokafka relay process -> actions.*",
        prefix=prefix,
        topic_stages=dict.fromkeys(_actions(names), "output"),
        primary_stage="output",
        every_stage="output",
        groups={hop.group: hop.inputs},
        relays=(hop,),
    )


def relay_chain(prefix: str) -> SystemPlan:
    """As many relay processes as Concierge has stages (two), over its topic shapes."""
    names = TopicNames(prefix)
    hops = (
        RelayHop(
            "intake-like",
            f"{prefix}relay-intake",
            _interactions(names),
            names.resolved,
            "identity",
        ),
        RelayHop(
            "decision-like",
            f"{prefix}relay-decision",
            (names.resolved,),
            _actions_template(names),
            "same",
        ),
    )
    stages = dict.fromkeys(_actions(names), "output")
    stages.update(_internal_stages(names))
    return SystemPlan(
        name=RELAY_CHAIN,
        description="2 relay processes: interactions -> resolved -> actions.*",
        prefix=prefix,
        topic_stages=stages,
        primary_stage="output",
        every_stage="output",
        groups={hop.group: hop.inputs for hop in hops},
        relays=hops,
    )


def concierge(prefix: str) -> SystemPlan:
    names = TopicNames(prefix)
    stages = dict.fromkeys((*_actions(names), names.suppressions), "action")
    stages.update(_internal_stages(names))
    groups = {
        f"{prefix}concierge-intake": _interactions(names),
        f"{prefix}concierge-decision": (names.resolved,),
    }
    return SystemPlan(
        name=CONCIERGE,
        description="intake (validation, identity) -> decision (context, decision): "
        "two batch stages on Faust, one process each",
        prefix=prefix,
        topic_stages=stages,
        # Not every event yields an action or suppression; every event reaches
        # intake's output, so throughput and completion count there.
        primary_stage="action",
        every_stage="resolved",
        groups=groups,
    )


PLANS = {
    KAFKA_SINK: kafka_sink,
    RELAY_ONE_HOP: relay_one_hop,
    RELAY_CHAIN: relay_chain,
    CONCIERGE: concierge,
}


def plan_for(system: str, run_prefix: str) -> SystemPlan:
    return PLANS[system](f"{run_prefix}{system}.")
