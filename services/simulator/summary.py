"""The end-of-run summary: what was sent, per channel and type, and how fast."""

from __future__ import annotations

from services.simulator.publisher import Tally

# Warn about lag only beyond what scheduling jitter causes on a busy machine.
LAG_WORTH_REPORTING_SECONDS = 1.0


def render_summary(
    tally: Tally, requested_rate: float, *, interrupted: bool = False, dry_run: bool = False
) -> str:
    elapsed = tally.elapsed_seconds()
    if dry_run:
        headline = (
            f"generated {tally.sent} events, a {elapsed:.1f} s schedule at "
            f"{requested_rate:g} events/s (dry run: nothing published)"
        )
    else:
        status = "interrupted after sending" if interrupted else "sent"
        headline = (
            f"{status} {tally.sent} events in {elapsed:.1f} s: "
            f"{tally.achieved_rate():.1f} events/s (requested {requested_rate:g})"
        )
    lines = [headline]
    if tally.max_lag_seconds > LAG_WORTH_REPORTING_SECONDS:
        lines.append(
            f"fell up to {tally.max_lag_seconds:.1f} s behind schedule: "
            "the broker or this machine could not keep up with the rate"
        )
    by_channel = tally.by_channel()
    for channel in sorted(by_channel):
        lines.append(f"{channel:<7} {by_channel[channel]:>8}")
        of_channel = sorted(
            (
                (event_type, count)
                for (ch, event_type), count in tally.counts.items()
                if ch == channel
            ),
            key=lambda item: (-item[1], item[0]),
        )
        lines.extend(f"  {event_type:<20} {count:>7}" for event_type, count in of_channel)
    return "\n".join(lines)
