"""The drain benchmark's figures: rates to each hop, CPU per event, the ratio."""

from __future__ import annotations

import pytest

from bench.drain_bench import Drained, parse_args, report
from bench.e2e.cpu import BROKER, local_broker_pid


def test_rates_cpu_per_event_and_the_ratio_come_from_the_same_backlog() -> None:
    relay = Drained("relay-chain", 8000, {"relay-intake": 1.0, "relay-decision": 2.0}, {"a": 0.4})
    concierge = Drained(
        "concierge",
        8000,
        {"concierge-intake": 4.0, "concierge-decision": 32.0},
        {"intake": 4.0, "decision": 16.0},
    )
    assert concierge.seconds == 32.0
    assert concierge.rate == 250.0
    text = report([relay, concierge])
    assert "| concierge | concierge-intake | 4.0 | 2,000 |" in text
    assert "| concierge | decision | 16.0 | 2,000 |" in text
    assert "concierge: 8000 events drained in 32.0 s, 250 events/s, 20.0 CPU s" in text
    assert "Concierge over the relay chain, events/s: 0.062x" in text


def test_a_scaled_out_drain_is_named_apart_and_leaves_the_ratio_to_one_worker() -> None:
    relay = Drained("relay-chain", 8000, {"relay-decision": 1.0}, {})
    one = Drained("concierge", 8000, {"concierge-decision": 16.0}, {"decision": 8.0})
    two = Drained(
        "concierge",
        8000,
        {"concierge-decision": 10.0},
        {"decision": 5.0, "decision-2": 4.0},
        decision_workers=2,
    )
    text = report([relay, one, two])
    assert "| concierge (2 decision workers) | decision-2 | 4.0 | 500 |" in text
    assert "concierge (2 decision workers): 8000 events drained in 10.0 s, 800 events/s" in text
    # The ratio is the shipped deployment's (one process per stage), not the scaled one's.
    assert "Concierge over the relay chain, events/s: 0.062x" in text


def test_no_ratio_without_both_systems() -> None:
    alone = Drained("concierge", 100, {"concierge-intake": 1.0}, {})
    assert "relay chain" not in report([alone])


def test_the_backlog_is_100000_events_unless_a_quick_run_is_asked_for() -> None:
    assert parse_args([]).events == 100_000
    assert parse_args(["--quick"]).events == 8_000
    assert parse_args(["--events", "20000"]).events == 20_000
    assert parse_args([]).decision_workers == 1


def test_the_backlog_is_2000_customers_journeys_unless_told_otherwise() -> None:
    # The default keeps drains comparable with every earlier one (mature contexts);
    # more customers spread the same events thinner.
    assert parse_args([]).customers == 2_000
    assert parse_args(["--customers", "20000"]).customers == 20_000


def test_a_local_brokers_cpu_is_a_row_and_its_share_of_the_total_is_named() -> None:
    concierge = Drained(
        "concierge",
        8000,
        {"concierge-decision": 16.0},
        {"intake": 2.0, "decision": 8.0, BROKER: 3.0},
        broker_at_rest=0.05,
    )
    text = report([concierge])
    assert "| concierge | broker | 3.0 | 375 |" in text
    assert (
        "500 events/s, 13.0 CPU s (the broker's 3.0, above the 0.05 cores it used at rest)" in text
    )


@pytest.mark.parametrize(
    "bootstrap",
    [
        "10.0.0.7:9092",  # another machine's
        "kafka:9092",  # a name that may resolve anywhere (a container's, say)
        "localhost",  # no port to look for
        "127.0.0.1:9092,127.0.0.1:9093",  # a cluster: not one process's CPU
    ],
)
def test_no_broker_is_measured_unless_one_local_port_names_it(bootstrap: str) -> None:
    assert local_broker_pid(bootstrap) is None
