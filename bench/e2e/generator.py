"""The open-loop load generator, run as its own process.

    python -m bench.e2e.generator --bootstrap HOST:PORT [--linger-ms 2] [--max-lag-ms 200]

Its own process so the collector's work never delays a send. It prints
``{"ready": true}`` once its producer is connected, then reads one JSON command
per line on stdin: ``{"plan": PATH, "start_ns": T}`` plays the pickled plan
(``(offset_ns, topic, key, event)`` tuples) from wall-clock instant ``T`` and
prints the step's ``GeneratorReport`` as one JSON line; end of input stops it.

Each record is sent at its intended time and never waits for delivery;
``occurred_at`` and the ``bench-intended-ns`` header both carry the intended
time, so latency is measured from when the event *should* have gone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from bench.e2e.schedule import INTENDED_HEADER, NS_PER_MS, NS_PER_S, LagTracker, due_until
from libs.common.kafka import create_producer
from libs.common.settings import CommonSettings
from services.simulator.journeys import stamped

PlanItem = tuple[int, str, bytes | None, dict[str, Any]]


def _delivered(tracker: LagTracker, future: asyncio.Future[Any]) -> None:
    if future.cancelled() or future.exception() is not None:
        tracker.failed()


async def play(
    producer: AIOKafkaProducer, plan: Sequence[PlanItem], start_ns: int, tracker: LagTracker
) -> None:
    offsets = [item[0] for item in plan]
    index = 0
    while index < len(plan):
        elapsed = time.time_ns() - start_ns
        end = due_until(offsets, index, elapsed)
        if end == index:
            await asyncio.sleep((offsets[index] - elapsed) / NS_PER_S)
            continue
        for offset_ns, topic, key, event in plan[index:end]:
            intended = start_ns + offset_ns
            tracker.record(intended, time.time_ns())
            occurred_at = datetime.fromtimestamp(intended / NS_PER_S, UTC)
            future = await producer.send(
                topic,
                orjson.dumps(stamped(event, occurred_at)),
                key=key,
                headers=[(INTENDED_HEADER, str(intended).encode())],
            )
            future.add_done_callback(partial(_delivered, tracker))
        index = end
        # Let the producer's sender task run even when we are behind schedule.
        await asyncio.sleep(0)
    await producer.flush()


async def serve(bootstrap: str, linger_ms: int, max_lag_ms: float) -> None:
    settings = CommonSettings(kafka_bootstrap_servers=bootstrap)
    producer = create_producer(settings, client_id="bench-generator", linger_ms=linger_ms)
    await producer.start()
    loop = asyncio.get_running_loop()
    try:
        print(json.dumps({"ready": True}), flush=True)
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            raw = await asyncio.to_thread(Path(command["plan"]).read_bytes)
            plan: list[PlanItem] = pickle.loads(raw)
            tracker = LagTracker(threshold_ns=round(max_lag_ms * NS_PER_MS))
            await play(producer, plan, int(command["start_ns"]), tracker)
            print(json.dumps(tracker.report().as_dict()), flush=True)
    finally:
        await producer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--linger-ms", type=int, default=2)
    parser.add_argument("--max-lag-ms", type=float, default=200.0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.bootstrap, args.linger_ms, args.max_lag_ms))


if __name__ == "__main__":
    main()
