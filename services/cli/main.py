"""`concierge`: the operator's command line.

Each command builds its settings from the environment (CONCIERGE_*), so the
same variables that configure the services point the CLI at the same cluster.
"""

from __future__ import annotations

import asyncio

import typer
from pydantic import ValidationError

from libs.common.broker_probe import BrokerUnreachableError
from libs.common.provision import provision, render
from libs.common.settings import CommonSettings, UnknownSettingError, load_settings

app = typer.Typer(help="Operate Concierge: topics, smoke checks and more.", no_args_is_help=True)


def _settings() -> CommonSettings:
    return load_settings(CommonSettings)


@app.command("provision")
def provision_command(
    check: bool = typer.Option(
        False, "--check", help="Report missing topics and drift; create nothing."
    ),
) -> None:
    """Create every contract and internal topic; report drift on existing ones."""
    report = asyncio.run(provision(_settings(), create=not check))
    typer.echo(render(report))
    if not report.ok:
        raise typer.Exit(code=2)


@app.command("smoke")
def smoke_command(
    messages: int = typer.Option(100, min=1, help="How many records to round-trip."),
) -> None:
    """Produce and consume through the shared client factory and time it."""
    from services.cli.smoke import run_smoke

    result = asyncio.run(run_smoke(_settings(), messages=messages))
    typer.echo(
        f"smoke: sent {result.sent}, received {result.received} on {result.topic} "
        f"in {result.seconds * 1000:.0f} ms"
    )
    if result.received != result.sent:
        raise typer.Exit(code=1)


def main() -> None:
    try:
        app()
    except (BrokerUnreachableError, UnknownSettingError, ValidationError) as error:
        # Configuration problems get one clear line, not a traceback.
        typer.echo(f"concierge: {error}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
