"""A bare aiokafka relay hop, run as its own process: consume, parse JSON, produce.

    python -m bench.e2e.relay --bootstrap B --group G --inputs T1,T2 --output T --key MODE

The baseline for what any Python stage on Kafka costs: no validation, no
state, no framework. It uses the same client settings as Concierge's stages:
acks=all with idempotence, the same linger as Faust's producer, read_committed,
and offsets committed once a second after the producer has flushed (Faust's
commit interval), so at-least-once like Concierge and its lag is measured the
same way. Prints ``{"ready": true}`` once it owns partitions; SIGTERM or the end
of stdin (its parent gone) stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from bench.e2e.payloads import key_of
from libs.common.kafka import create_consumer, create_producer
from libs.common.settings import CommonSettings

COMMIT_INTERVAL_S = 1.0
KEY_MODES = ("event_id", "identity", "same")


def output_topic(template: str, event: dict[str, Any]) -> str:
    return template.format(channel=event.get("channel", "")) if "{" in template else template


def output_key(mode: str, record: ConsumerRecord[bytes, bytes], event: dict[str, Any]) -> Any:
    if mode == "event_id":
        return str(event.get("event_id", "")).encode()
    if mode == "identity":
        return key_of(event)
    return record.key


async def relay(
    consumer: AIOKafkaConsumer,
    producer: AIOKafkaProducer,
    output: str,
    key_mode: str,
    stopping: asyncio.Event,
) -> None:
    last_commit = time.monotonic()
    announced = False
    while not stopping.is_set():
        # Joining the group happens inside getmany, so readiness is known only here.
        batches = await consumer.getmany(timeout_ms=100)
        if not announced and consumer.assignment():
            print(json.dumps({"ready": True}), flush=True)
            announced = True
        for records in batches.values():
            for record in records:
                event = orjson.loads(record.value)
                await producer.send(
                    output_topic(output, event),
                    orjson.dumps(event),
                    key=output_key(key_mode, record, event),
                )
        if time.monotonic() - last_commit >= COMMIT_INTERVAL_S:
            # Commit only what has been delivered downstream: at-least-once.
            await producer.flush()
            await consumer.commit()
            last_commit = time.monotonic()
    await producer.flush()
    await consumer.commit()


async def _stop_with_parent(stopping: asyncio.Event) -> None:
    """Stop when stdin closes: the bench that started us has gone, even if it was killed."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()
    stopping.set()


async def run(args: argparse.Namespace) -> None:
    settings = CommonSettings(kafka_bootstrap_servers=args.bootstrap)
    consumer = create_consumer(
        settings, *args.inputs.split(","), client_id=args.group, group_id=args.group
    )
    producer = create_producer(settings, client_id=args.group, linger_ms=args.linger_ms)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    watcher = asyncio.create_task(_stop_with_parent(stopping))
    await producer.start()
    await consumer.start()
    try:
        await relay(consumer, producer, args.output, args.key, stopping)
    finally:
        watcher.cancel()
        with contextlib.suppress(Exception):
            await consumer.stop()
        await producer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--inputs", required=True, help="comma-separated topics")
    parser.add_argument("--output", required=True, help="topic, or template with {channel}")
    parser.add_argument("--key", choices=KEY_MODES, default="same")
    parser.add_argument("--linger-ms", type=int, default=2)
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
