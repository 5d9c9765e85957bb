"""When a stage gathers records per fetch and when it waits on the broker for each."""

from __future__ import annotations

from libs.common.fetch_pace import GATHERING, WAITING, FetchPacer, linger_at


def test_a_stage_starts_gathering_and_keeps_to_it_until_a_window_is_measured() -> None:
    pacer = FetchPacer(now=0.0)
    assert pacer.pace == GATHERING
    # Half a second of nothing is not yet a rate.
    assert pacer.fetched(0, now=0.5) == GATHERING


def test_an_idle_stage_waits_on_the_broker() -> None:
    pacer = FetchPacer(now=0.0)
    assert pacer.fetched(0, now=1.0) == WAITING
    assert WAITING.min_bytes == 1  # any record answers the fetch at once


def test_light_traffic_waits_and_heavy_traffic_gathers() -> None:
    pacer = FetchPacer(now=0.0)
    for tick in range(1, 11):
        pacer.fetched(3, now=tick / 10)  # 30 records a second
    assert pacer.pace == WAITING
    for tick in range(11, 21):
        pacer.fetched(50, now=tick / 10)  # 500 a second
    assert pacer.pace == GATHERING
    assert GATHERING.min_bytes > WAITING.min_bytes
    assert GATHERING.max_wait_ms < WAITING.max_wait_ms


def test_a_rate_between_the_thresholds_keeps_the_pace_it_has() -> None:
    # 75 records a second: gathering stays gathering, waiting stays waiting, so
    # a rate near one threshold does not flip the stage on every window.
    gathering = FetchPacer(now=0.0)
    assert gathering.fetched(75, now=1.0) == GATHERING
    waiting = FetchPacer(now=0.0)
    waiting.fetched(0, now=1.0)
    assert waiting.fetched(75, now=2.0) == WAITING


def test_each_window_counts_its_own_records() -> None:
    pacer = FetchPacer(now=0.0)
    assert pacer.fetched(500, now=1.0) == GATHERING
    # The busy second before does not carry into a quiet one.
    assert pacer.fetched(10, now=2.0) == WAITING


def test_a_stage_lingers_only_while_it_gathers() -> None:
    configured = 0.005
    assert linger_at(WAITING, configured) == 0.0  # a record a round: nothing to wait for
    assert linger_at(GATHERING, configured) == configured
