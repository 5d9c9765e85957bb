"""A minimal batch stage for the adapter's own broker tests (tests/integration/common/
test_batch_stage.py): counts records per key in a RocksDB table and emits
``key:count:offset`` per record; a record whose value is ``boom`` raises.

Run as ``python -m tests.support.counting_stage`` with COUNTING_* variables.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from faust.web import Request, Response, View
from faust.worker import Worker

from libs.common.batch import InputRecord, Output, TableView, Unencoded
from libs.common.batch_stage import batch_stage
from libs.common.faust_app import create_faust_app, create_table, observe
from libs.common.fetch_pace import pace_of
from libs.common.logging import configure_logging
from libs.common.settings import CommonSettings


def _encode_count(count: int) -> bytes:
    return str(count).encode()


class CountingHandler:
    def __init__(self, output_topic: str, worker: str) -> None:
        self._output_topic = output_topic
        self._worker = worker
        self.assignments = 0  # new assignments of the group this worker saw

    def on_assigned(self) -> None:
        self.assignments += 1

    def handle(
        self, record: InputRecord, tables: Mapping[str, TableView], now: datetime
    ) -> Sequence[Output]:
        key = (record.key or b"").decode()
        counts = tables["counts"]
        stored = counts.read(key)
        count = (stored.value if isinstance(stored, Unencoded) else int(stored or b"0")) + 1
        # Staged (dropped if we raise below), and put decoded: encoded by the flush.
        counts.put(key, Unencoded(count, _encode_count))
        if record.value == b"boom":
            raise ValueError("a record this handler cannot take")
        body = f"{key}:{count}:{record.offset}:{self._worker}".encode()
        return [Output(self._output_topic, record.key, body)]


def main() -> None:
    env = os.environ
    common = CommonSettings(
        kafka_bootstrap_servers=env["COUNTING_BOOTSTRAP"],
        topic_prefix=env["COUNTING_PREFIX"],
        partitions=2,
    )
    configure_logging(os.environ.get("COUNTING_LOG_LEVEL", "DEBUG"), "json")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_faust_app(
        "counting",
        common,
        web_port=int(env["COUNTING_PORT"]),
        data_dir=Path(env["COUNTING_DATA_DIR"]),
        single_writer=env.get("COUNTING_SINGLE_WRITER") == "1",
    )
    telemetry = observe(app, "counting")
    counts = create_table(app, "counts", partitions=2, help="key -> count")
    prefix = common.topic_prefix
    handler = CountingHandler(f"{prefix}counting.out", env.get("COUNTING_WORKER", "w"))
    stage = batch_stage(
        app,
        name="counting",
        topics=[f"{prefix}counting.in"],
        tables={"counts": counts},
        handler=handler,
        telemetry=telemetry,
        dlq_topic=f"{prefix}counting.dlq",
        on_assigned=handler.on_assigned,
    )

    @app.page("/assignments")
    class AssignmentsView(View):
        async def get(self, request: Request) -> Response:
            return self.json({"assignments": handler.assignments})

    @app.page("/counts/{key}")
    class CountView(View):
        async def get(self, request: Request, key: str) -> Response:
            value = stage.lookup("counts", key)
            return self.json({"count": None if value is None else int(value)})

    @app.page("/fetch-pace")
    class PaceView(View):
        """How the stage's consumer asks for records now (libs/common/fetch_pace.py)."""

        async def get(self, request: Request) -> Response:
            consumer = app.consumer._thread._consumer  # type: ignore[attr-defined]
            fetcher = None if consumer is None else consumer._fetcher
            if fetcher is None:
                return self.json({"pace": None})
            return self.json({"pace": list(pace_of(fetcher))})

    Worker(
        app, loop=loop, loglevel="info", quiet=True, redirect_stdouts=False, override_logging=False
    ).execute_from_commandline()


if __name__ == "__main__":
    main()
