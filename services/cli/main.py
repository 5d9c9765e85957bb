"""`concierge`: the operator's command line.

Each command builds its settings from the environment (CONCIERGE_*), so the
same variables that configure the services point the CLI at the same cluster.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import orjson
import typer
from pydantic import ValidationError

from libs.common.access import Principals, acl_plan, kafka_acls_commands
from libs.common.acls import AclError, create_acls
from libs.common.broker_probe import BrokerUnreachableError
from libs.common.decision_log_reader import read_customer_log
from libs.common.guard import EXIT_KAFKA_DENIED
from libs.common.kafka_security import KafkaAccessDenied
from libs.common.provision import provision, render
from libs.common.settings import CommonSettings, UnknownSettingError, load_settings
from libs.common.topics import CHANNELS, TopicNames
from libs.contract.dlq import ErrorCode
from services.cli.stack import (
    SERVICES,
    Stack,
    StackError,
    is_loopback,
    kafka_script,
    local_secrets,
)

app = typer.Typer(
    help="Operate Concierge: the stack, topics, dead letters, privacy.", no_args_is_help=True
)
stack_app = typer.Typer(
    help="Start and stop the local stack (every service as a process).", no_args_is_help=True
)
dlq_app = typer.Typer(help="Inspect and replay dead-lettered input.", no_args_is_help=True)
config_app = typer.Typer(help="Check the decision catalogue and policies.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(dlq_app, name="dlq")
app.add_typer(config_app, name="config")

REPO = Path(__file__).resolve().parents[2]


def _run_dir() -> Path:
    stack_dir = _settings().stack_dir
    return stack_dir if stack_dir.is_absolute() else REPO / stack_dir


def _settings() -> CommonSettings:
    return load_settings(CommonSettings)


def _print_json(topic: str, body: dict[str, object]) -> None:
    typer.echo(f"{topic}\t{orjson.dumps(body).decode()}")


@app.command("provision")
def provision_command(
    check: bool = typer.Option(False, "--check", help="Report missing topics and drift only."),
) -> None:
    """Create every contract and internal topic; report drift on existing ones."""
    report = asyncio.run(provision(_settings(), create=not check))
    typer.echo(render(report))
    if not report.ok:
        raise typer.Exit(code=2)


@app.command("serve")
def serve_command(
    service: str = typer.Argument(..., help="intake, decision or gateway."),
) -> None:
    """Run one service in the foreground (the container image's command)."""
    from services.cli.container import serve

    try:
        serve(service)
    except ValueError as error:
        typer.echo(f"concierge: {error}", err=True)
        raise typer.Exit(code=2) from None


@app.command("ready")
def ready_command() -> None:
    """Exit 0 when the service in this container answers /ready (its health check)."""
    from services.cli.container import http_status, probe_container

    result = probe_container(os.environ, http_status)
    typer.echo(result.detail, err=not result.ready)
    if not result.ready:
        raise typer.Exit(code=1)


@app.command("strimzi-topics")
def strimzi_topics_command(
    cluster: str = typer.Option(..., "--cluster", help="The Strimzi Kafka cluster's name."),
) -> None:
    """Print every topic as a Strimzi KafkaTopic resource (YAML), for the Topic Operator."""
    import yaml

    from libs.common.strimzi import kafka_topics

    typer.echo(yaml.safe_dump_all(kafka_topics(_settings(), cluster), sort_keys=False), nl=False)


@app.command("acls")
def acls_command(
    apply: bool = typer.Option(
        False, "--apply", help="Create them on the cluster (as an admin principal)."
    ),
    principal: list[str] = typer.Option(
        [],
        "--principal",
        help="NAME=User:x for a service (intake, decision, gateway, operator) or a channel "
        "(web, phone, mobile, store); defaults: User:concierge-<service>, User:channel-<channel>.",
    ),
) -> None:
    """The ACLs the contract implies: printed as kafka-acls.sh commands, or created."""
    settings = _settings()
    try:
        principals = Principals().with_overrides(principal)
    except ValueError as error:
        typer.echo(f"concierge: {error}", err=True)
        raise typer.Exit(code=2) from None
    grants = acl_plan(TopicNames(settings.topic_prefix), principals)
    if not apply:
        for command in kafka_acls_commands(grants, settings.kafka_bootstrap_servers):
            typer.echo(command)
        return
    try:
        created = create_acls(settings, grants)
    except AclError as error:
        typer.echo(f"concierge: {error}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"{created} ACLs in place for {len(set(g.principal for g in grants))} principals")


@app.command("smoke")
def smoke_command(messages: int = typer.Option(100, min=1, help="Records to round-trip.")) -> None:
    """Produce and consume through the shared client factory and time it."""
    from services.cli.smoke import run_smoke

    result = asyncio.run(run_smoke(_settings(), messages=messages))
    typer.echo(
        f"smoke: sent {result.sent}, received {result.received} on {result.topic} "
        f"in {result.seconds * 1000:.0f} ms"
    )
    if result.received != result.sent:
        raise typer.Exit(code=1)


def _bring_up(settings: CommonSettings, kafka: bool, timeout: float) -> tuple[Stack, bool]:
    """Broker (when asked and local), topics, every service; True if the broker was started."""

    started_kafka = False
    if kafka and is_loopback(settings.kafka_bootstrap_servers):
        started = kafka_script("up", settings.kafka_bootstrap_servers)
        typer.echo(started.stderr.strip())
        if started.returncode != 0:
            raise typer.Exit(code=1)
        started_kafka = "already running" not in started.stderr
    report = asyncio.run(provision(settings))
    typer.echo(render(report).splitlines()[-1])
    env = {**local_secrets(_run_dir()), **os.environ}
    stack = Stack(_run_dir(), env)
    try:
        stack.up(timeout=timeout)
    except StackError as error:
        stack.down()
        typer.echo(f"concierge: {error}", err=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        stack.down()
        raise
    for spec in SERVICES:
        typer.echo(
            f"  {spec.name:<9} ready  {stack.url(spec.name)}  log {stack.log_path(spec.name)}"
        )
    typer.echo(f"gateway API keys (local only): {_run_dir() / 'secrets' / 'api-keys.json'}")
    typer.echo(console_hint(stack.url("gateway"), env.get("CONCIERGE_GATEWAY_API_KEYS", "{}")))
    return stack, started_kafka


def console_hint(gateway_url: str, api_keys: str) -> str:
    """Where the web console is, and an operator key to sign in with (a local
    stack's generated key: printed to the terminal that started it, never logged)."""
    keys: dict[str, dict[str, object]] = orjson.loads(api_keys)
    operator = next((key for key, grant in keys.items() if grant.get("channel") is None), None)
    sign_in = f"sign in with {operator}" if operator else "sign in with an all-channel API key"
    return f"web console: {gateway_url}/console/  ({sign_in})"


@stack_app.command("up")
def stack_up(
    timeout: float = typer.Option(180.0, help="Seconds to wait for every service to be ready."),
    kafka: bool = typer.Option(True, help="Start the local broker too (loopback brokers only)."),
) -> None:
    """Start Kafka, provision topics, start every service; return once all are ready."""
    _bring_up(_settings(), kafka, timeout)


@app.command("demo")
def demo(
    customers: int = typer.Option(60, min=1, help="Simulated customers mid-journey at once."),
    rate: float = typer.Option(15.0, min=0.1, help="Events per second."),
    duration: float = typer.Option(float("inf"), help="Seconds to run (default: until Ctrl-C)."),
    seed: int = typer.Option(0, help="Simulator seed (0: a new one each run)."),
    kafka: bool = typer.Option(True, help="Start the local broker too (loopback brokers only)."),
) -> None:
    """Start everything, simulate customers and show decisions live; Ctrl-C stops it all."""
    import random

    from rich.console import Console

    from services.cli.demo import run_demo

    settings = _settings()
    console = Console()
    # SIGTERM (an orchestrator, `timeout`) stops the demo as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack, started_kafka = _bring_up(settings, kafka, 180.0)
    # A fresh seed by default: event ids repeat for a seed, and repeats are deduplicated.
    chosen_seed = seed or random.SystemRandom().randrange(1, 1_000_000)
    console.print(
        f"simulating {customers} customers at {rate:g} events/s (seed {chosen_seed}); "
        "Ctrl-C to stop"
    )
    state = None
    try:
        state = asyncio.run(
            run_demo(
                settings,
                console,
                customers=customers,
                seed=chosen_seed,
                rate=rate,
                duration=duration,
            )
        )
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        stack.down()
        if started_kafka:
            kafka_script("down", settings.kafka_bootstrap_servers)
        console.print("every service stopped" + (" and the broker" if started_kafka else ""))
    if state is not None:
        console.print(state.summary(), highlight=False, soft_wrap=True)


@stack_app.command("down")
def stack_down(
    kafka: bool = typer.Option(False, "--kafka", help="Stop the local broker too."),
) -> None:
    """Stop every service (SIGTERM, then SIGKILL after a deadline)."""

    Stack(_run_dir(), dict(os.environ)).down()
    typer.echo("services stopped")
    settings = _settings()
    if kafka and is_loopback(settings.kafka_bootstrap_servers):
        typer.echo(kafka_script("down", settings.kafka_bootstrap_servers).stderr.strip())


@stack_app.command("status")
def stack_status() -> None:
    """Which services run and answer /ready."""

    stack = Stack(_run_dir(), dict(os.environ))
    all_ready = True
    for name, pid in stack.running().items():
        ready = pid is not None and stack.is_ready(name)
        all_ready &= ready
        typer.echo(
            f"{name:<9} {'ready' if ready else 'running' if pid else 'stopped':<8} "
            f"pid {pid or '-'}  {stack.url(name)}"
        )
    if not all_ready:
        raise typer.Exit(code=3)


@app.command("lag")
def lag_command(
    partitions: bool = typer.Option(False, "--partitions", help="One line per partition too."),
) -> None:
    """Records each stage has not committed yet (its consumer group's lag)."""
    from libs.common.lag import stage_lags

    for stage, lags in asyncio.run(stage_lags(_settings())).items():
        total = sum(item.lag for item in lags)
        typer.echo(f"{stage:<9} lag {total}")
        if partitions:
            for item in lags:
                committed = "-" if item.committed is None else item.committed
                typer.echo(
                    f"  {item.topic}[{item.partition}] end {item.end} committed {committed}"
                    f" lag {item.lag}"
                )


def _tail(
    topics: list[str],
    customer: str | None,
    code: str | None,
    from_beginning: bool,
    limit: int | None,
    idle: float | None,
) -> None:
    from services.cli.operate import TailFilter, tail

    async def run() -> None:
        async for topic, body in tail(
            _settings(), topics, TailFilter(customer, code), from_beginning, limit, idle
        ):
            _print_json(topic, body)

    asyncio.run(run())


FROM_BEGINNING = typer.Option(False, "--from-beginning", help="Start at the oldest record.")
LIMIT = typer.Option(None, help="Stop after this many records.")
IDLE = typer.Option(None, "--idle", help="Stop after this many quiet seconds.")
CUSTOMER = typer.Option(None, "--customer", help="Only this customer_id.")


@app.command("tail-actions")
def tail_actions(
    channel: list[str] = typer.Option(None, "--channel", help="web, phone, mobile or store."),
    customer: str | None = CUSTOMER,
    from_beginning: bool = FROM_BEGINNING,
    limit: int | None = LIMIT,
    idle: float | None = IDLE,
) -> None:
    """Print actions as they are decided (JSON lines, prefixed by topic)."""
    names = TopicNames(_settings().topic_prefix)
    channels = channel or [c.value for c in CHANNELS]
    _tail([names.actions(c) for c in channels], customer, None, from_beginning, limit, idle)


@app.command("tail-suppressions")
def tail_suppressions(
    customer: str | None = CUSTOMER,
    from_beginning: bool = FROM_BEGINNING,
    limit: int | None = LIMIT,
    idle: float | None = IDLE,
) -> None:
    """Print suppressions (starts and lifts) as they are emitted."""
    _tail(
        [TopicNames(_settings().topic_prefix).suppressions],
        customer,
        None,
        from_beginning,
        limit,
        idle,
    )


@dlq_app.command("tail")
def dlq_tail(
    code: str | None = typer.Option(None, help="Only this error code, e.g. schema_violation."),
    from_beginning: bool = FROM_BEGINNING,
    limit: int | None = LIMIT,
    idle: float | None = IDLE,
) -> None:
    """Print dead-lettered records with their error code, path and source offset."""
    _tail([TopicNames(_settings().topic_prefix).dlq], None, code, from_beginning, limit, idle)


@dlq_app.command("replay")
def dlq_replay(
    code: str | None = typer.Option(None, help="Only letters with this error code."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, send nothing."),
) -> None:
    """Send dead-lettered records back to their source topic, once each, after a fix."""
    from libs.common.dead_letters import replay_dead_letters

    wanted = ErrorCode(code) if code else None
    settings = _settings()
    report = asyncio.run(
        replay_dead_letters(settings, TopicNames(settings.topic_prefix).dlq, wanted, dry_run)
    )
    verb = "would replay" if dry_run else "replayed"
    typer.echo(
        f"{verb} {report.replayed}, skipped {report.skipped} (redacted or truncated), "
        f"unreadable {report.unreadable}"
    )


@app.command("erase")
def erase(
    customer_id: str,
    request_id: str | None = typer.Option(None, help="Your reference; a repeat is done once."),
) -> None:
    """Ask Concierge to forget a customer (privacy.requests)."""
    from services.cli.operate import erasure_request, request_erasure

    settings = _settings()
    request = erasure_request(customer_id, request_id)
    asyncio.run(
        request_erasure(settings, TopicNames(settings.topic_prefix).privacy_requests, request)
    )
    typer.echo(f"erasure requested: {request.request_id}")


@config_app.command("validate")
def config_validate(
    catalogue: Path = typer.Option(Path("deploy/config/catalogue.yaml"), help="Catalogue file."),
    policies: Path = typer.Option(Path("deploy/config/policies.yaml"), help="Policies file."),
) -> None:
    """Validate a catalogue and policy file as the decision service will at start-up."""
    from services.decision.domain.catalogue import ConfigError, load_config

    try:
        config = load_config(catalogue, policies)
    except (ConfigError, OSError) as error:
        typer.echo(f"invalid: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(
        f"valid: {len(config.catalogue.actions)} actions, policy_version {config.policy_version}"
    )


@app.command("context")
def show_context(
    customer_id: str,
    url: str = typer.Option(
        "http://127.0.0.1:8094",
        envvar="CONCIERGE_GATEWAY_CONTEXT_URL",
        help="The decision service (it routes to the worker that owns the customer).",
    ),
) -> None:
    """Show a customer's live context."""
    token = _settings().query_token.get_secret_value()
    response = httpx.get(
        f"{url}/v1/customers/{customer_id}/context",
        headers={"Authorization": f"Bearer {token}"} if token else None,
        timeout=10,
    )
    if response.status_code == 404:
        typer.echo(f"unknown customer: {customer_id}", err=True)
        raise typer.Exit(code=1)
    response.raise_for_status()
    typer.echo(orjson.dumps(response.json(), option=orjson.OPT_INDENT_2).decode())


@app.command("decisions")
def show_decisions(customer_id: str) -> None:
    """Every decision for a customer still on the decision log (its retention),
    one decision-log/v1 record a line, oldest first. Once the customer is erased
    none are found: their records are keyed by their deleted key's id. Says how
    many records keyed by the customer id (written before the log was keyed by
    key id) no kept key opens."""
    found = asyncio.run(read_customer_log(_settings(), customer_id))
    for record in found.records:
        typer.echo(record.model_dump_json(by_alias=True))
    typer.echo(
        f"{len(found.records)} decision(s); {found.unreadable} record(s) no kept key opens"
        + ("" if found.key_kept else " (no key kept: erased, or never decided for)"),
        err=True,
    )


def main() -> None:
    try:
        app()
    except (BrokerUnreachableError, UnknownSettingError, ValidationError) as error:
        # Configuration problems get one clear line, not a traceback.
        typer.echo(f"concierge: {error}", err=True)
        sys.exit(1)
    except httpx.HTTPError as error:
        typer.echo(f"concierge: {error}", err=True)
        sys.exit(1)
    except KafkaAccessDenied as error:
        typer.echo(f"concierge: {error}", err=True)
        sys.exit(EXIT_KAFKA_DENIED)


if __name__ == "__main__":
    main()
