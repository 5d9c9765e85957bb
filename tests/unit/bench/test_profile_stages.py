from __future__ import annotations

from bench.profile_stages import OTHER, area_of, parse_collapsed


def test_frames_are_attributed_to_where_the_time_is_spent() -> None:
    assert area_of("send (/v/site-packages/aiokafka/producer/producer.py:312)").startswith("kafka")
    assert area_of("_c_aiter (faust/streams.py:1180)").startswith("faust")
    assert area_of("to_bytes (libs/pipeline/envelopes.py:24)") == "concierge: libs/"
    assert area_of("ack (/v/site-packages/faust/streams.py:1390)").startswith("faust")
    assert area_of("decide (/work/main/services/decision/domain/decide.py:61)") == (
        "concierge: services/"
    )
    assert area_of("loads (<built-in>)") == OTHER


def test_collapsed_stacks_are_counted_by_their_leaf_frame() -> None:
    lines = [
        "run (/x/asyncio/base_events.py:1);handle (/x/services/decision/handler.py:9) 30",
        "run (/x/asyncio/base_events.py:1);get (/x/site-packages/faust/tables/base.py:3) 10",
        "not a sample line",
    ]
    profile = parse_collapsed(lines)
    assert profile.total == 40
    assert profile.by_area["concierge: services/"] == 30
    assert profile.by_leaf["get (/x/site-packages/faust/tables/base.py:3)"] == 10
    assert profile.in_handlers == 30
