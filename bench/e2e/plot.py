"""Latency percentiles against offered rate, Concierge and the baselines, as a PNG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: the bench runs headless

import matplotlib.pyplot as plt

from bench.e2e.report import LABELS

PERCENTILES = (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9"))


def _series(
    steps: list[Mapping[str, Any]], key: str, stage: str | None
) -> tuple[list[float], list[float], list[bool]]:
    xs, ys, ok = [], [], []
    for step in steps:
        value = step[key] if stage is None else step["stages"].get(stage, {}).get(key)
        if value is not None:
            xs.append(float(step["offered_rate"]))
            ys.append(max(float(value), 0.01))
            ok.append(bool(step["sustainable"]))
    return xs, ys, ok


def write_plot(document: Mapping[str, Any], path: Path) -> None:
    target = float(document["criteria"]["p99_target_ms"])
    figure, axes = plt.subplots(1, len(PERCENTILES), figsize=(16, 5), sharey=True)
    for axis, (key, title) in zip(axes, PERCENTILES, strict=True):
        for name, system in document["systems"].items():
            steps = system["steps"]
            xs, ys, ok = _series(steps, key, None)
            if not xs:
                continue
            (line,) = axis.plot(xs, ys, marker="o", label=LABELS.get(name, name))
            # Unsustainable steps get a cross, so the knee is visible at a glance.
            failed = [(x, y) for x, y, good in zip(xs, ys, ok, strict=True) if not good]
            if failed:
                axis.scatter(*zip(*failed, strict=True), marker="x", s=80, color=line.get_color())
            if name == "concierge":
                cx, cy, _ = _series(steps, key, "resolved")
                axis.plot(
                    cx,
                    cy,
                    linestyle="--",
                    marker=".",
                    color=line.get_color(),
                    label="Concierge, event -> resolved (intake's output)",
                )
        if key == "p99_ms":
            axis.axhline(target, color="grey", linestyle=":", label=f"target {target:g} ms")
        axis.set_title(f"{title} latency from intended send time")
        axis.set_xlabel("offered rate (events/s)")
        axis.set_xscale("log")
        axis.set_yscale("log")
        rates = [float(rate) for rate in document["run"].get("rates", [])]
        if rates:
            # The ladder's own rates as ticks, written out, not as powers of ten.
            axis.set_xticks(rates, [f"{rate:g}" for rate in rates])
            axis.minorticks_off()
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms")
    # The p99 panel holds every series and the target line; the legend goes
    # below the panels so it never hides a point.
    handles, labels = axes[1].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    figure.suptitle(f"Concierge end to end vs bare Kafka baselines (run {document['run']['id']})")
    figure.tight_layout(rect=(0.0, 0.07, 1.0, 1.0))
    figure.savefig(path, dpi=110)
    plt.close(figure)
