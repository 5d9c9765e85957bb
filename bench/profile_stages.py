"""Where each Concierge service's CPU goes under load: py-spy samples, summarised.

    .venv/bin/python -m bench.profile_stages [--rate 150] [--seconds 20] [--warmup 8]

Starts the two stages on a running broker (uniquely prefixed topics, deleted
afterwards), plays the simulator's journeys open loop at ``--rate`` events/s
with the e2e benchmark's generator, and after ``--warmup`` seconds samples every
service with py-spy for ``--seconds``. Prints, per service, the CPU it used
(cores), the CPU per event, the share of samples by where the time is spent
(Faust and its runtime, the Kafka client, pydantic, RocksDB, logging, our own
code, ...) and the functions with the most samples of their own.

py-spy attaches with ptrace: run as root, or allow it
(``/proc/sys/kernel/yama/ptrace_scope`` = 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e.cpu import CpuMeter, cores_used
from bench.e2e.launch import Generator, delete_topics, provision_topics, start_system
from bench.e2e.payloads import step_plan
from bench.e2e.schedule import NS_PER_S
from bench.e2e.systems import CONCIERGE, plan_for

# First match wins: a frame belongs to the first area one of whose packages its
# file is in. py-spy names files relative to their sys.path entry
# ("faust/streams.py") or absolute for scripts.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kafka client (aiokafka)", ("aiokafka",)),
    ("faust + mode (streams, tables, sensors)", ("faust", "mode", "venusian")),
    ("rocksdb (rocksdict)", ("rocksdict",)),
    ("pydantic (models, JSON)", ("pydantic", "pydantic_core")),
    ("logging (structlog, stdlib)", ("structlog", "logging")),
    ("metrics (prometheus_client)", ("prometheus_client",)),
    ("concierge: services/", ("services",)),
    ("concierge: libs/", ("libs",)),
    ("asyncio event loop", ("asyncio", "selectors")),
)
OTHER = "other (stdlib, orjson, ...)"


def area_of(frame: str) -> str:
    # "function (path/to/file.py:123)"
    path = frame.rpartition(" (")[2].rstrip(")")
    parts = path.replace("\\", "/").split("/")
    for area, packages in AREAS:
        if any(package in parts[:-1] for package in packages):
            return area
    return OTHER


@dataclass
class Profile:
    by_area: Counter[str] = field(default_factory=Counter)  # by the leaf frame's area
    by_leaf: Counter[str] = field(default_factory=Counter)
    in_handlers: int = 0  # samples under a service's handler (services/), callees included
    total: int = 0


def parse_collapsed(lines: Iterable[str]) -> Profile:
    """py-spy ``--format raw`` lines (``frame;frame;... count``)."""
    profile = Profile()
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        leaf = frames[-1]
        profile.by_area[area_of(leaf)] += count
        profile.by_leaf[leaf] += count
        # A service's __main__ is at the root of every stack: not a handler.
        if any(
            area_of(frame) == "concierge: services/" and "__main__.py" not in frame
            for frame in frames
        ):
            profile.in_handlers += count
        profile.total += count
    return profile


def record(pid: int, seconds: float, rate_hz: int, out: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(round(seconds))]
    command += ["--rate", str(rate_hz), "--format", "raw", "--nonblocking", "-o", str(out)]
    # --gil: only samples holding the GIL, i.e. Python running, not waiting.
    command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def profile(args: argparse.Namespace) -> int:
    bootstrap = args.bootstrap
    run_prefix = f"prof{uuid.uuid4().hex[:6]}."
    plan = plan_for(CONCIERGE, run_prefix)
    work = Path(tempfile.mkdtemp(prefix="concierge-profile-"))
    await provision_topics(bootstrap, plan.prefix, args.partitions)
    system = await start_system(plan, bootstrap, args.partitions, 2, "INFO", work)
    generator = Generator(bootstrap, 2, 200.0, work / "logs")
    try:
        await generator.start()
        seconds = args.warmup + args.seconds + 2
        planned = step_plan(args.rate, seconds, args.customers, args.seed, 0)
        items = [(p.offset_ns, plan.names.interactions(p.channel), p.key, p.event) for p in planned]
        plan_path = work / "plan.pickle"
        plan_path.write_bytes(pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL))
        start_ns = time.time_ns() + NS_PER_S
        playing = asyncio.create_task(generator.play(plan_path, start_ns, seconds + 30))
        await asyncio.sleep(1 + args.warmup)
        pids = system.pids()
        meter = CpuMeter(pids)
        before, clock = meter.sample(), time.monotonic()
        recorders = {
            name: record(pid, args.seconds, args.sample_hz, work / f"{name}.txt")
            for name, pid in pids.items()
        }
        for name, recorder in recorders.items():
            _, error = await asyncio.to_thread(recorder.communicate)
            if recorder.returncode != 0:
                print(f"{name}: py-spy failed: {error.decode().strip()[-300:]}", file=sys.stderr)
        cpu = cores_used(before, meter.sample(), time.monotonic() - clock)
        report = await playing
        print(
            f"\n{args.rate:g} events/s offered for {seconds:.0f} s "
            f"(generator max lag {report.max_lag_ms:.0f} ms); "
            f"py-spy {args.sample_hz} Hz for {args.seconds:g} s, samples holding the GIL\n"
        )
        for name in pids:
            print_service(name, work / f"{name}.txt", cpu.get(name), args.rate, args.top)
    finally:
        await generator.stop()
        await system.stop()
        await delete_topics(bootstrap, plan.prefix)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    return 0


def print_service(name: str, path: Path, cores: float | None, rate: float, top: int) -> None:
    if not path.exists():
        print(f"== {name}: no samples")
        return
    # py-spy writes frame names as it finds them: not always valid UTF-8.
    profile = parse_collapsed(path.read_text(errors="replace").splitlines())
    total = max(profile.total, 1)
    per_event = "" if cores is None else f", {cores * 1000 / rate:.2f} ms CPU per event"
    shown = "?" if cores is None else f"{cores:.2f}"
    print(f"== {name}: {shown} cores{per_event}; {profile.total} samples")
    print(
        f"   {profile.in_handlers / total:6.1%}  inside the service's own handlers"
        " (services/, with the libraries they call)"
    )
    print("   by where the sampled frame is:")
    for area, count in profile.by_area.most_common():
        print(f"   {count / total:6.1%}  {area}")
    print("   top functions (own samples):")
    for leaf, count in profile.by_leaf.most_common(top):
        print(f"   {count / total:6.1%}  {leaf[:110]}")
    print()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_bootstrap = os.environ.get(
        "CONCIERGE_KAFKA_BOOTSTRAP_SERVERS", os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    )
    parser.add_argument("--bootstrap", default=default_bootstrap or "127.0.0.1:9092")
    parser.add_argument("--rate", type=float, default=150.0, help="offered events/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="sampled")
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--sample-hz", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep logs and raw samples")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(asyncio.run(profile(parse_args(argv))))


if __name__ == "__main__":
    main()
