"""How fast intake judges records, against the floor of merely parsing them.

    .venv/bin/python -m bench.validation_bench [--events 50000] [--seed 7] [--json PATH]

Generates realistic, valid interaction records of every type (seeded, so runs
compare), then on one pinned core measures (a) bare `json.loads` of the same
bytes and (b) `validate_record`: parse, validate envelope and attributes,
hash phone/e-mail, normalise; and (c) the same during a PII key rotation
window (each phone and e-mail hashed with the previous key too). Throughput
is the best of several untimed-per-event passes; latency percentiles come from
a separate per-event-timed pass.
"""

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pydantic

from libs.contract.common import Channel
from libs.contract.dlq import SourceRef
from libs.contract.examples import example_interaction
from libs.contract.vocabulary import EventType
from services.intake.domain.pii import PiiKey
from services.intake.domain.validate import Accepted, validate_record

# Rough shape of real traffic: browsing dominates, calls and store visits are rarer.
_MIX: dict[EventType, float] = {
    EventType.page_view: 24,
    EventType.screen_view: 10,
    EventType.search: 8,
    EventType.cart_add: 6,
    EventType.cart_remove: 2,
    EventType.checkout_started: 3,
    EventType.checkout_failed: 1,
    EventType.app_open: 6,
    EventType.push_opened: 2,
    EventType.push_dismissed: 1,
    EventType.action_shown: 5,
    EventType.action_accepted: 1,
    EventType.action_dismissed: 1,
    EventType.purchase: 3,
    EventType.identify: 2,
    EventType.consent_updated: 1,
    EventType.profile_updated: 1,
    EventType.complaint_opened: 0.5,
    EventType.complaint_resolved: 0.5,
    EventType.call_started: 2,
    EventType.ivr_step: 3,
    EventType.call_queued: 1.5,
    EventType.call_abandoned: 0.5,
    EventType.call_connected: 1.5,
    EventType.call_ended: 1.5,
    EventType.store_visit: 3,
    EventType.associate_assist: 1,
    EventType.return_: 1,
}
_CLIENT_CONTEXT: dict[Channel, dict[str, str]] = {
    Channel.web: {
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0",
        "referrer": "https://www.google.com/",
        "utm_source": "newsletter",
    },
    Channel.mobile: {"app_version": "7.12.3", "os": "iOS 17.4", "locale": "en_GB"},
    Channel.phone: {"call_id": "call-00000000", "line": "uk-main"},
    Channel.store: {"pos_terminal": "till-07", "region": "london"},
}
PREVIOUS_PII_KEY = PiiKey(b"bench-only-previous-key-0123456", "old")
PII_KEY = b"bench-only-key-0123456789abcdef"
BASE_TIME = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def generate(count: int, seed: int) -> list[tuple[bytes, Channel]]:
    """(record bytes, topic channel) pairs, all valid."""
    rng = random.Random(seed)
    types = list(_MIX)
    weights = list(_MIX.values())
    records = []
    for number in range(count):
        event_type = rng.choices(types, weights)[0]
        record = example_interaction(
            event_type,
            event_id=f"evt-{rng.getrandbits(64):016x}",
            occurred_at=(BASE_TIME - timedelta(seconds=rng.uniform(0, 86_400))).isoformat(),
        )
        channel = Channel(record["channel"])
        identity = record["identity"]
        for key in ("customer_id", "anonymous_id", "device_id", "loyalty_id"):
            if key in identity:
                identity[key] = f"{key[:4]}-{rng.randrange(10**9):09d}"
        if "phone" in identity:
            identity["phone"] = f"+4479{rng.randrange(10**8):08d}"
        record["session_id"] = f"sess-{rng.getrandbits(48):012x}"
        record["attributes"].update(_CLIENT_CONTEXT[channel])
        if number % 2 and channel is Channel.web:
            identity.pop("customer_id", None)
        records.append((orjson.dumps(record), channel))
    return records


def _throughput(run: Callable[[], None], count: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def _latencies_us(step: Callable[[int], object], count: int) -> dict[str, float]:
    clock = time.perf_counter_ns
    samples = []
    for index in range(count):
        started = clock()
        step(index)
        samples.append(clock() - started)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50_us": cuts[49] / 1000, "p99_us": cuts[98] / 1000}


def measure(records: list[tuple[bytes, Channel]], repeats: int) -> dict[str, Any]:
    payloads = [payload for payload, _ in records]
    channels = [channel for _, channel in records]
    sources = [
        SourceRef(topic=f"interactions.{channel}", partition=0, offset=0) for channel in Channel
    ]
    source_of = {channel: source for channel, source in zip(Channel, sources, strict=True)}
    now = BASE_TIME + timedelta(minutes=1)

    def parse(index: int) -> object:
        return json.loads(payloads[index])

    def judge_with(**keys: Any) -> Callable[[int], object]:
        def judge(index: int) -> object:
            channel = channels[index]
            return validate_record(
                payloads[index],
                topic_channel=channel,
                source=source_of[channel],
                now=now,
                pii_key=PII_KEY,
                **keys,
            )

        return judge

    judge = judge_with()
    # During a PII key rotation window: every phone and e-mail hashed twice.
    judge_rotating = judge_with(pii_key_id="new", previous_pii_key=PREVIOUS_PII_KEY)

    accepted = sum(isinstance(judge(index), Accepted) for index in range(len(records)))
    count = len(records)

    def parse_all() -> None:
        for index in range(count):
            parse(index)

    def judge_all() -> None:
        for index in range(count):
            judge(index)

    def judge_rotating_all() -> None:
        for index in range(count):
            judge_rotating(index)

    gc.collect()
    figures: dict[str, Any] = {}
    for name, run_all, step in (
        ("json_loads", parse_all, parse),
        ("validate_record", judge_all, judge),
        ("validate_record_rotating", judge_rotating_all, judge_rotating),
    ):
        run_all()  # warm caches and lazily built validators
        figures[name] = {"events_per_s": _throughput(run_all, count, repeats)}
        figures[name].update(_latencies_us(step, count))
    figures["ratio_json_loads_to_validate"] = (
        figures["json_loads"]["events_per_s"] / figures["validate_record"]["events_per_s"]
    )
    figures["accepted"] = accepted
    figures["events"] = count
    figures["mean_payload_bytes"] = statistics.fmean(len(payload) for payload in payloads)
    return figures


def _pin_to_one_core() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="intake validation throughput")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5, help="throughput passes; best kept")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write figures here")
    args = parser.parse_args(argv)

    core = _pin_to_one_core()
    records = generate(args.events, args.seed)
    figures = measure(records, args.repeats)
    figures.update(
        seed=args.seed,
        core=core,
        python=platform.python_version(),
        pydantic=pydantic.VERSION,
        orjson=orjson.__version__,
        machine=platform.machine(),
    )
    loads, judged = figures["json_loads"], figures["validate_record"]
    print(
        f"{figures['events']} events, mean {figures['mean_payload_bytes']:.0f} bytes, "
        f"{figures['accepted']} accepted, core {core}"
    )
    rotating = figures["validate_record_rotating"]
    for label, row in (
        ("json.loads", loads),
        ("validate_record", judged),
        ("key rotation", rotating),
    ):
        print(
            f"{label:>16}: {row['events_per_s']:>10,.0f} events/s   "
            f"p50 {row['p50_us']:6.2f} µs   p99 {row['p99_us']:6.2f} µs"
        )
    print(
        f"{'ratio':>16}: validate_record is {figures['ratio_json_loads_to_validate']:.1f}x slower"
    )
    if args.json_path:
        args.json_path.parent.mkdir(parents=True, exist_ok=True)
        args.json_path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
