"""The command line without a broker: dry runs, bad options, an unreachable broker."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from libs.contract.interaction import InteractionEvent
from services.simulator.cli import app

runner = CliRunner()


def test_a_dry_run_prints_valid_json_lines_and_a_summary_on_stderr() -> None:
    result = runner.invoke(
        app, ["--customers", "20", "--rate", "40", "--duration", "2.5", "--seed", "3", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 100
    events = [orjson.loads(line) for line in lines]
    for event in events:
        InteractionEvent.from_sender(event).typed_attributes()
    assert "generated 100 events" in result.stderr


def test_dry_runs_with_one_seed_print_the_same_events() -> None:
    def run() -> list[dict[str, object]]:
        result = runner.invoke(
            app, ["--customers", "5", "--rate", "10", "--duration", "3", "--dry-run"]
        )
        return [
            {k: v for k, v in orjson.loads(line).items() if k != "occurred_at"}
            for line in result.stdout.splitlines()
        ]

    assert run() == run()


def test_a_rate_that_is_not_positive_is_refused() -> None:
    result = runner.invoke(app, ["--rate", "0", "--dry-run"])
    assert result.exit_code == 2
    assert "--rate" in result.stderr


def test_an_unreachable_broker_fails_fast_with_one_line() -> None:
    result = runner.invoke(
        app, ["--duration", "1", "--bootstrap", "127.0.0.1:1", "--broker-timeout", "0.5"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("simulator: no Kafka broker answered at 127.0.0.1:1")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
