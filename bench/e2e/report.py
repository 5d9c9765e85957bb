"""The results document rendered as markdown tables (printed and written).

Rendered from the JSON document itself, so any saved result can be rendered
again (``python -m bench.run --render bench/results/<file>.json``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

LABELS = {
    "kafka-sink": "Kafka alone (sink)",
    "relay-1-hop": "bare relay, 1 hop",
    "relay-chain": "bare relay chain, 2 hops",
    "concierge": "Concierge (2 batch stages)",
}


# Internal hops every event passes through, in pipeline order.
STAGE_ORDER = ("resolved",)


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _label(name: str) -> str:
    return LABELS.get(name, name)


def _verdict(step: Mapping[str, Any]) -> str:
    if step["sustainable"]:
        return "yes"
    reasons = "; ".join(step["reasons"])
    return f"keeps up, but {reasons}" if step["keeps_up"] else f"no: {reasons}"


def _pairs(values: Mapping[str, Any], digits: int = 2) -> str:
    return ", ".join(f"{name} {_num(value, digits)}" for name, value in values.items()) or "-"


def _main_rows(systems: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for name, system in systems.items():
        for step in system["steps"]:
            rows.append(
                [
                    _label(name),
                    f"{system['primary_stage']}",
                    _num(step["offered_rate"], 0),
                    _num(step["achieved_rate"], 0),
                    _num(step["p50_ms"]),
                    _num(step["p99_ms"]),
                    _num(step["p999_ms"]),
                    _num(step["max_ms"]),
                    f"{step['output_fraction']:.0%}",
                    _num(step["lag_total"]) if step["lag"] else "-",
                    _num(sum(step["cpu"].values()), 2),
                    _verdict(step),
                ]
            )
    return rows


def _stage_rows(systems: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for name, system in systems.items():
        for step in system["steps"]:
            for stage in STAGE_ORDER:
                stats = step["stages"].get(stage)
                if stats is None:
                    continue
                rows.append(
                    [
                        _label(name),
                        _num(step["offered_rate"], 0),
                        stage,
                        _num(stats["p50_ms"]),
                        _num(stats["p99_ms"]),
                        _num(stats["p999_ms"]),
                        _num(stats["max_ms"]),
                        f"{stats['fraction']:.1%}",
                        str(stats["censored"]),
                    ]
                )
    return rows


def _resource_rows(systems: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for name, system in systems.items():
        for step in system["steps"]:
            # Group names carry the run's topic prefix; the tail says which stage.
            lags = {group.rsplit(".", 1)[-1]: lag for group, lag in step["lag"].items()}
            rows.append(
                [
                    _label(name),
                    _num(step["offered_rate"], 0),
                    _pairs(lags, 0),
                    _pairs(step["cpu"]),
                    _num(step["generator"]["max_lag_ms"]),
                ]
            )
    return rows


def _maximum(system: Mapping[str, Any], name: str) -> str:
    rate = system[f"{name}_rate"]
    if rate is None:
        return "none of the ladder"
    shown = f"{_num(rate, 0)} ({_num(system[f'{name}_throughput'], 0)}/s achieved)"
    if system[f"{name}_ceiling"]:
        shown += ", top of ladder: may be higher"
    return shown


def _summary_rows(systems: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for name, system in systems.items():
        if system["error"]:
            rows.append([_label(name), f"error: {system['error']}", "-"])
        else:
            rows.append(
                [
                    _label(name),
                    _maximum(system, "max_sustainable"),
                    _maximum(system, "max_keeping_up"),
                ]
            )
    return rows


def _ratio(value: float | None) -> str:
    return "n/a (a system sustained no rate of the ladder)" if value is None else f"{value:.3g}x"


def render_markdown(document: Mapping[str, Any]) -> str:
    run = document["run"]
    criteria = document["criteria"]
    systems = document["systems"]
    lines = [
        f"# End-to-end benchmark, run {run['id']}",
        "",
        f"{run['started_at']} on {run['host']}; {run['partitions']} partitions, acks=all, "
        f"linger {run['linger_ms']} ms; steps of {run['warmup_seconds']:g} s warm-up + "
        f"{run['step_seconds']:g} s measured; payloads: {run['payload_source']}.",
        "Latency: from each event's intended send time (open loop) to its first output, ms.",
        f"Sustainable: p99 <= {criteria['p99_target_ms']:g} ms, achieved >= "
        f"{criteria['min_throughput_fraction']:.0%} of offered, lag <= "
        f"{criteria['max_lag_seconds']:g} s of load per group, >= "
        f"{criteria['min_completion']:.0%} of events out, generator on schedule.",
        "",
        "## Per offered rate (primary stage: action for Concierge, output for baselines)",
        "",
    ]
    lines += _table(
        [
            "system",
            "stage",
            "offered/s",
            "achieved/s",
            "p50",
            "p99",
            "p99.9",
            "max",
            "events w/ output",
            "lag",
            "CPU cores",
            "sustainable",
        ],
        _main_rows(systems),
    )
    stage_rows = _stage_rows(systems)
    if stage_rows:
        lines += ["", "## Every event, stage by stage: intended send time -> stage output", ""]
        lines += _table(
            ["system", "offered/s", "stage", "p50", "p99", "p99.9", "max", "reached", "censored"],
            stage_rows,
        )
    lines += ["", "## Lag (records, per consumer group) and CPU (cores, per process)", ""]
    lines += _table(
        ["system", "offered/s", "lag by group", "CPU by process", "generator max lag ms"],
        _resource_rows(systems),
    )
    lines += ["", "## Maximum rates (offered events/s)", ""]
    lines += _table(
        ["system", "sustainable (keeps up, p99 on target)", "keeps up (latency aside)"],
        _summary_rows(systems),
    )
    lines += [
        "",
        "Concierge's max sustainable throughput over the bare 1-hop relay's: "
        f"{_ratio(document['ratio_to_one_hop_relay'])}; over the 2-hop relay chain's: "
        f"{_ratio(document['ratio_to_relay_chain'])}.",
        "Capacity (keeping up, latency aside), Concierge over the 1-hop relay: "
        f"{_ratio(document['capacity_ratio_to_one_hop_relay'])}; over the relay chain: "
        f"{_ratio(document['capacity_ratio_to_relay_chain'])}.",
    ]
    drain = document.get("drain")
    if drain:
        lines += ["", "## Drain: a backlog waiting before the system starts", ""]
        lines += _table(
            ["system", "events", "drained in (s)", "events/s", "CPU µs per event, by process"],
            [
                [
                    name,
                    f"{result['events']:,}",
                    f"{result['seconds']:.1f}",
                    f"{result['events_per_s']:,.0f}",
                    ", ".join(
                        f"{process} {us:,.0f}"
                        for process, us in sorted(result["cpu_us_per_event"].items())
                    ),
                ]
                for name, result in drain.items()
            ],
        )
        lines += [
            "",
            f"Concierge drained {_ratio(document.get('drain_ratio_to_relay_chain'))} "
            "the relay chain's events/s.",
        ]
        scaled = document.get("drain_scaled_out")
        if scaled:
            lines.append(
                f"With {scaled['decision_workers']} decision workers (stage 2 scaled out by "
                f"partitions): {scaled['events_per_s']:,.0f} events/s, "
                f"{_ratio(scaled['over_one_worker'])} one worker's."
            )
    return "\n".join(lines) + "\n"
