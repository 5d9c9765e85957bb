"""`python -m services.simulator`: publish simulated customer journeys at a rate.

Settings come from the environment like every Concierge process (CONCIERGE_*,
KAFKA_BOOTSTRAP_SERVERS), so the simulator writes to the topics the services
read; `--bootstrap` overrides the broker address only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from libs.common.broker_probe import BrokerUnreachableError
from libs.common.settings import CommonSettings, UnknownSettingError, load_settings
from services.simulator.builder import stamped
from services.simulator.journeys import DEFAULT_IN_FLIGHT, events_at_rate
from services.simulator.preflight import TopicsMissingError, check_ready
from services.simulator.publisher import Tally, publish_run
from services.simulator.summary import render_summary

# Shorter runs finish before a progress bar tells anyone anything.
PROGRESS_FROM_SECONDS = 5.0
# A person is waiting at a terminal: fail within seconds, not the services' 30 s.
DEFAULT_BROKER_TIMEOUT = 5.0

app = typer.Typer(add_completion=False, help=__doc__)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"simulator: {message}", err=True)
    return typer.Exit(code=1)


@app.command()
def simulate(
    customers: int = typer.Option(200, min=1, help="Distinct customers (1..N)."),
    rate: float = typer.Option(50.0, help="Events per second."),
    duration: float = typer.Option(60.0, min=0, help="Seconds to run ('inf': until Ctrl-C)."),
    seed: int = typer.Option(7, help="Same seed, same events (and event ids)."),
    bootstrap: str | None = typer.Option(
        None, help="Kafka bootstrap servers; default from CONCIERGE_KAFKA_BOOTSTRAP_SERVERS."
    ),
    in_flight: int = typer.Option(
        DEFAULT_IN_FLIGHT, min=1, help="Customers mid-journey at once (capped at --customers)."
    ),
    broker_timeout: float = typer.Option(
        DEFAULT_BROKER_TIMEOUT, min=0.1, help="Seconds to wait for the broker before failing."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the events as JSON lines, unpaced; publish nothing."
    ),
) -> None:
    """Publish realistic cross-channel journeys to interactions.<channel>."""
    if not rate > 0 or not math.isfinite(rate):
        raise typer.BadParameter("must be a positive number", param_hint="--rate")
    events = events_at_rate(customers, seed, rate, duration, in_flight=in_flight)
    if dry_run:
        _print_events(events, rate)
        return
    try:
        settings = load_settings(CommonSettings)
    except UnknownSettingError as error:
        raise _fail(str(error)) from None
    except ValidationError as error:
        problems = (f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise _fail("invalid settings: " + "; ".join(problems)) from None
    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    tally = Tally()
    try:
        asyncio.run(_run(settings, events, tally, rate, duration, broker_timeout))
    except (BrokerUnreachableError, TopicsMissingError) as error:
        raise _fail(str(error)) from None
    except KafkaError as error:
        raise _fail(f"publishing failed after {tally.sent} events: {error!r}") from None
    except KeyboardInterrupt:
        typer.echo(render_summary(tally, rate, interrupted=True))
        raise typer.Exit(code=130) from None
    typer.echo(render_summary(tally, rate))


async def _run(
    settings: CommonSettings,
    events: Iterator[tuple[float, str, dict[str, Any]]],
    tally: Tally,
    rate: float,
    duration: float,
    broker_timeout: float,
) -> None:
    await check_ready(settings, broker_timeout)
    console = Console(stderr=True)
    # A bar only where someone watches (a terminal) and long enough to matter.
    show = console.is_terminal and duration >= PROGRESS_FROM_SECONDS
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not show) as progress:
        # An endless run (--duration inf) has no total; the bar just counts.
        total = math.ceil(rate * duration) if math.isfinite(duration) else None
        task = progress.add_task("publishing", total=total)
        await publish_run(settings, events, tally=tally, on_sent=lambda _: progress.advance(task))


def _print_events(events: Iterator[tuple[float, str, dict[str, Any]]], rate: float) -> None:
    """JSON lines on stdout, stamped with when they would have been sent; summary on stderr."""
    start = datetime.now(UTC)
    tally = Tally(started=0.0)
    try:
        for offset, channel, event in events:
            record = stamped(event, start + timedelta(seconds=offset))
            sys.stdout.write(orjson.dumps(record).decode() + "\n")
            tally.record(channel, str(record["type"]), offset)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped (`| head`): that ends the run, it is not an error.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    typer.echo(render_summary(tally, rate, dry_run=True), err=True)


def main() -> None:
    # The simulator logs nothing itself; the Kafka client's warnings go to
    # stderr so stdout holds only the summary (or, in a dry run, the events).
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    app()
