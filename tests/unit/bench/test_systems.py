from __future__ import annotations

from typing import Any

from aiokafka.structs import ConsumerRecord, TopicPartition

from bench.e2e.cpu import cores_used
from bench.e2e.lag import lag_of
from bench.e2e.payloads import key_of, step_plan
from bench.e2e.relay import output_key, output_topic
from bench.e2e.systems import (
    ALL_SYSTEMS,
    CONCIERGE,
    CONCIERGE_SERVICES,
    RELAY_CHAIN,
    concierge,
    plan_for,
    relay_chain,
    relay_one_hop,
)
from libs.common.topics import CHANNELS, TopicNames


def test_every_system_gets_its_own_prefix_under_the_run_prefix() -> None:
    plans = [plan_for(name, "bench-x.") for name in ALL_SYSTEMS]
    assert len({plan.prefix for plan in plans}) == len(ALL_SYSTEMS)
    for plan in plans:
        assert plan.prefix.startswith("bench-x.")
        assert all(topic.startswith(plan.prefix) for topic in plan.topic_stages)
        assert plan.primary_stage in plan.stages
        assert plan.every_stage in plan.stages


def test_the_relay_chain_has_as_many_hops_as_concierge_over_its_topics() -> None:
    plan = relay_chain("p.")
    names = TopicNames("p.")
    hops = plan.relays
    assert len(hops) == len(CONCIERGE_SERVICES) == 2
    assert hops[0].inputs == tuple(names.interactions(c) for c in CHANNELS)
    assert hops[0].output == names.resolved
    assert hops[0].key == "identity"
    assert hops[1].inputs == (names.resolved,)
    assert hops[1].output.format(channel="web") == names.actions("web")
    assert plan.topic_stages[names.resolved] == "resolved"
    assert set(plan.groups) == {hop.group for hop in hops}


def test_concierge_is_judged_on_actions_and_counted_at_intakes_output() -> None:
    plan = concierge("p.")
    names = TopicNames("p.")
    assert plan.topic_stages[names.suppressions] == "action"
    assert plan.topic_stages[names.actions("store")] == "action"
    assert plan.topic_stages[names.resolved] == "resolved"
    assert (plan.primary_stage, plan.every_stage) == ("action", "resolved")
    # Faust's group ids are the app ids: <prefix>concierge-<service>.
    assert plan.groups == {
        "p.concierge-intake": tuple(names.interactions(c) for c in CHANNELS),
        "p.concierge-decision": (names.resolved,),
    }
    assert plan.name == CONCIERGE
    assert plan_for(RELAY_CHAIN, "p.").name == RELAY_CHAIN


def test_the_one_hop_relay_writes_per_channel_action_topics() -> None:
    (hop,) = relay_one_hop("p.").relays
    assert output_topic(hop.output, {"channel": "phone"}) == "p.actions.phone"
    assert output_topic("fixed", {"channel": "phone"}) == "fixed"


def _record(key: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 0, 0, 0, 0, key, b"{}", None, 0, 2, [])


def test_relay_keys_follow_the_stage_they_imitate() -> None:
    event: dict[str, Any] = {"event_id": "e1", "identity": {"phone": "+44", "device_id": "d"}}
    assert output_key("event_id", _record(None), event) == b"e1"
    assert output_key("identity", _record(None), event) == b"d"
    assert output_key("same", _record(b"k"), event) == b"k"


def test_record_keys_never_carry_raw_pii() -> None:
    assert key_of({"identity": {"phone": "+447700900123", "email": "a@b"}}) is None
    assert key_of({"identity": {"anonymous_id": "anon-1", "customer_id": "c-1"}}) == b"c-1"
    assert key_of({}) is None


def test_a_step_plan_is_the_same_for_every_system_and_unique_per_step() -> None:
    first = step_plan(100.0, 2.0, customers=50, base_seed=3, step_index=0)
    again = step_plan(100.0, 2.0, customers=50, base_seed=3, step_index=0)
    second = step_plan(100.0, 2.0, customers=50, base_seed=3, step_index=1)
    assert len(first) == 200
    assert [p.event for p in first] == [p.event for p in again]
    assert [p.offset_ns for p in first[:3]] == [0, 10_000_000, 20_000_000]
    assert not {p.event_id for p in first} & {p.event_id for p in second}


def test_lag_is_end_minus_committed_and_an_uncommitted_partition_counts_whole() -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    assert lag_of({a: 100, b: 40}, {a: 90}) == 10 + 40
    assert lag_of({a: 100}, {a: -1}) == 100
    assert lag_of({a: 100}, {a: 120}) == 0


def test_cpu_is_seconds_used_over_wall_seconds_per_process() -> None:
    before = {"intake": 10.0, "gone": 1.0, "late": None}
    after = {"intake": 11.5, "gone": None, "late": 3.0}
    assert cores_used(before, after, 2.0) == {"intake": 0.75}
    assert cores_used(before, after, 0.0) == {}
