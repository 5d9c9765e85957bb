"""10,000 malformed records interleaved with valid ones: each malformed one is
dead-lettered with its code and its source offset, every valid one goes on, and
intake's throughput is compared with a clean run of the same valid records
(reported, not asserted: performance is measured, correctness is asserted)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from libs.common.provision import provision
from libs.common.settings import CommonSettings
from libs.common.topics import TopicNames
from tests.reliability.conftest import fresh_settings
from tests.reliability.harness import Record, produce_all, wait_drained, workload
from tests.support.kafka_io import read_all
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration

MALFORMED = 10_000
JOURNEYS = 1_300  # about 10,000 valid events


def _valid(channel: str) -> dict[str, Any]:
    return {
        "schema": "interaction/v1",
        "event_id": "bad-template",
        "type": "app_open" if channel == "mobile" else "identify",
        "channel": channel,
        "occurred_at": datetime.now(UTC).isoformat(),
        "identity": {"customer_id": "C-malformed"},
        "attributes": {},
    }


def _changed(topic_channel: str, **fields: Any) -> bytes:
    return orjson.dumps({**_valid(topic_channel), **fields})


_OTHER = {"web": "phone", "phone": "store", "store": "mobile", "mobile": "web"}
_PHONE_ONLY = {"web": "call_started", "mobile": "call_started", "store": "call_started"}

# (expected code, how to spoil a record for a channel's topic)
SPOILERS: list[tuple[str, Callable[[str], bytes | None]]] = [
    ("empty_record", lambda channel: b""),
    ("empty_record", lambda channel: None),
    ("invalid_json", lambda channel: b'{"schema": "interaction/v1", '),
    ("invalid_encoding", lambda channel: b'{"type": "\xff\xfe"}'),
    ("schema_violation", lambda channel: b"[1, 2, 3]"),
    ("unsupported_schema", lambda channel: _changed(channel, schema="interaction/v9")),
    ("unknown_type", lambda channel: _changed(channel, type="teleport")),
    ("schema_violation", lambda channel: _changed(channel, occurred_at="yesterday")),
    ("missing_identity", lambda channel: _changed(channel, identity={})),
    ("channel_mismatch", lambda channel: _changed(channel, channel=_OTHER[channel])),
    ("future_timestamp", lambda channel: _changed(channel, occurred_at=_tomorrow())),
    (
        "schema_violation",
        lambda channel: _changed(channel, type="purchase", attributes={"items": []}),
    ),
]


def _tomorrow() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


def _spoiled(index: int, channel: str) -> tuple[str, bytes | None]:
    if index % 500 == 499:  # a few oversized ones: 33 KiB each
        return "too_large", _changed(channel, attributes={"note": "x" * 33 * 1024})
    if index % 50 == 7 and channel in _PHONE_ONLY:
        return "type_not_allowed_on_channel", _changed(channel, type=_PHONE_ONLY[channel])
    code, spoil = SPOILERS[index % len(SPOILERS)]
    return code, spoil(channel)


def _inputs(names: TopicNames) -> tuple[list[Record], list[Record], list[str | None]]:
    """Valid records alone, and the same valid records with malformed ones between
    them (one after each), with the code each mixed record must get (None = valid)."""
    valid = workload(seed=501, journeys=JOURNEYS).records(names)
    mixed: list[Record] = []
    codes: list[str | None] = []
    bad = 0
    for topic, key, value in valid:
        mixed.append((topic, key, value))
        codes.append(None)
        if bad < MALFORMED:
            channel = topic.rsplit(".", 1)[1]
            code, spoiled = _spoiled(bad, channel)
            mixed.append((topic, key, spoiled))
            codes.append(code)
            bad += 1
    assert bad == MALFORMED, f"only {len(valid)} valid records to interleave with"
    return valid, mixed, codes


async def _intake_run(settings: CommonSettings, run_dir: Path) -> tuple[float, float]:
    """Intake alone over what is already on the input topics; returns its records/s
    (from its first to its last output record) and the wall time to drain."""
    names = TopicNames(settings.topic_prefix)
    with running_stack(settings, run_dir, "intake"):
        began = time.monotonic()
        drained = await wait_drained(settings, timeout=240, stages=("intake",))
    outputs = await read_all(settings, [names.resolved, names.dlq])
    stamps = sorted(r.timestamp_ms for r in outputs)
    span = max(1, stamps[-1] - stamps[0]) / 1000
    return len(outputs) / span, drained - began


async def test_malformed_records_are_dead_lettered_and_the_rest_flows(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    clean = fresh_settings(kafka_bootstrap)
    dirty = fresh_settings(kafka_bootstrap)
    for settings in (clean, dirty):
        assert (await provision(settings)).ok
    clean_names, dirty_names = TopicNames(clean.topic_prefix), TopicNames(dirty.topic_prefix)
    valid, _, _ = _inputs(clean_names)
    _, mixed, codes = _inputs(dirty_names)
    await produce_all(clean, valid)
    landed = await produce_all(dirty, mixed)

    clean_rate, clean_wall = await _intake_run(clean, tmp_path / "clean")
    dirty_rate, dirty_wall = await _intake_run(dirty, tmp_path / "dirty")

    # Every malformed record is in the DLQ, once, with its code, at its source offset.
    expected = {
        (p.topic, p.partition, p.offset): code
        for p, code in zip(landed, codes, strict=True)
        if code is not None
    }
    letters = [r.json() for r in await read_all(dirty, [dirty_names.dlq])]
    got = Counter(
        (x["source"]["topic"], x["source"]["partition"], x["source"]["offset"]) for x in letters
    )
    assert not [k for k, n in got.items() if n > 1], "a record dead-lettered twice"
    by_source = {
        (x["source"]["topic"], x["source"]["partition"], x["source"]["offset"]): x["error"]["code"]
        for x in letters
    }
    assert set(by_source) == set(expected), (
        f"{len(set(expected) - set(by_source))} malformed records not dead-lettered, "
        f"{len(set(by_source) - set(expected))} valid ones dead-lettered"
    )
    wrong = {k: (by_source[k], code) for k, code in expected.items() if by_source[k] != code}
    assert not wrong, f"{len(wrong)} with another code (got, expected): {list(wrong.items())[:5]}"
    # Every valid record went on to the decision stage, once.
    resolved = [r.json() for r in await read_all(dirty, [dirty_names.resolved])]
    forwarded = [body["event"]["event_id"] for body in resolved if body["kind"] == "event"]
    valid_ids = {orjson.loads(value or b"")["event_id"] for _, _, value in valid}
    assert len(forwarded) == len(valid_ids)
    assert set(forwarded) == valid_ids

    ratio = dirty_rate / clean_rate
    print(
        f"\nintake, {len(valid)} valid records alone: {clean_rate:,.0f} records/s "
        f"(drained in {clean_wall:.1f}s)\n"
        f"intake, the same + {MALFORMED:,} malformed: {dirty_rate:,.0f} records/s "
        f"(drained in {dirty_wall:.1f}s)\n"
        f"malformed-vs-clean throughput ratio: {ratio:.0%} (target >= 90%); "
        f"valid records/s with malformed among them: {dirty_rate * len(valid) / len(mixed):,.0f}"
        f" ({dirty_rate * len(valid) / len(mixed) / clean_rate:.0%} of clean)"
        f"\ncodes: {dict(Counter(expected.values()))}"
    )
