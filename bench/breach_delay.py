"""The breach-delay row of `make bench` alone: deadline -> breach record, with many open leads.

One worker ingests ``--open-leads`` hand-offs whose first-touch deadlines fall, spread over
``--spread-seconds``, only after ingestion has finished; then every breach is read back. Two
delays per breach, in milliseconds after its ``deadline_at``:
- ``created``: the record's timestamp (CreateTime: when the worker's producer took it), what
  `make bench` reports;
- ``visible``: when a ``read_committed`` consumer received it, what a downstream reader sees
  (with exactly-once outputs, after the transaction committed).

The worker's CPU seconds and busy share (CPU / wall) from the end of ingestion until the
last breach was read: what the deadlines cost it.

``--bootstrap`` uses a running broker instead of starting one; ``--worker KEY=VALUE`` passes
worker settings (e.g. ``tick_interval_seconds=0.1``); ``--py-spy FILE`` records the worker's stacks
during the deadlines (a flame graph if FILE ends in .svg, else collapsed stacks; py-spy must
be installed in the virtualenv).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.run import ROOT, Broker, log, percentile, produce, until_consumed
from stream_sla.sla.events import EventKind, parse_timestamp
from stream_sla.sla.timestamps import MS_PER_HOUR, format_ms
from tests.integration.harness import Harness, now_ms


def handoffs(leads: int, base: int, spread_ms: int) -> list[tuple[EventKind, bytes, bytes]]:
    """Hand-offs an hour before ``base`` (+ up to ``spread_ms``): first-touch deadlines (1 h)
    from ``base`` on, spread evenly; 40 reps in 4 teams, as the bench's row."""
    out = []
    for n in range(leads):
        lead = f"O-{n:07d}"
        at = base - MS_PER_HOUR + n * spread_ms // leads
        body = {
            "event_id": f"{lead}-h", "lead_id": lead, "occurred_at": format_ms(at),
            "owner": f"rep-{n % 40}", "team": f"team-{n % 4}",
        }  # fmt: skip
        out.append((EventKind.HANDED_TO_SALES, lead.encode(), orjson.dumps(body)))
    return out


async def delays(h: Harness, expected: int, timeout_s: float) -> tuple[list[int], list[int]]:
    """(created, visible) delays of the first-touch breaches of the ``O-`` leads."""
    consumer = AIOKafkaConsumer(
        h.catalog.breaches, bootstrap_servers=h.bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, isolation_level="read_committed", fetch_max_wait_ms=50,
    )  # fmt: skip
    await consumer.start()
    created: list[int] = []
    visible: list[int] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(created) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            received = now_ms()
            for records in batch.values():
                for record in records:
                    value = orjson.loads(record.value or b"{}")
                    if value["lead_id"].startswith("O-") and value["rule"] == "first_touch":
                        due = parse_timestamp(value["deadline_at"])
                        created.append(record.timestamp - due)
                        visible.append(received - due)
    finally:
        await consumer.stop()
    return created, visible


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(values: list[int]) -> dict[str, int]:
    if not values:
        return {"p50_ms": -1, "p99_ms": -1, "max_ms": -1}
    return {
        "p50_ms": round(percentile(values, 0.5)),
        "p99_ms": round(percentile(values, 0.99)),
        "max_ms": max(values),
    }


async def measure(args: argparse.Namespace, bootstrap: str, workdir: Path) -> dict[str, Any]:
    h = Harness(bootstrap, workdir)
    await h.create_topics()
    settings: dict[str, Any] = {"session_timeout_seconds": 6, "closed_lead_retention": "30d"}
    settings.update(dict(item.split("=", 1) for item in args.worker))
    worker = h.start_worker("w1", **settings)
    worker.wait_ready()
    # deadlines start once the hand-offs are surely ingested (at >= 1,500 events/s: each
    # fires its warning, 45 min in, as it comes), with a margin
    lead_s = args.open_leads / 1_500 + 15
    base = now_ms() + int(lead_s * 1000)
    records = handoffs(args.open_leads, base, args.spread_seconds * 1000)
    await produce(h, records)
    first, last = await until_consumed([worker], h, len(records), timeout_s=lead_s + 300)
    log(f"{len(records):,} hand-offs ingested in {last - first:.1f}s")
    wait_s = (base - now_ms()) / 1000
    if wait_s < 1:
        raise SystemExit(f"ingestion ran past the first deadline by {-wait_s:.1f}s")
    cpu_before, wall_before = cpu_seconds(worker.process.pid), time.monotonic()
    spy = None
    if args.py_spy:
        spy = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking",
            "-p", str(worker.process.pid), "-o", args.py_spy, "-r", "50",
            "-f", "flamegraph" if args.py_spy.endswith(".svg") else "raw",
            "-d", str(int(wait_s + args.spread_seconds + 5)),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    created, visible = await delays(h, args.open_leads, wait_s + args.spread_seconds + 120)
    # the worker's CPU from the end of ingestion to the last breach read: the sweep's cost
    cpu = cpu_seconds(worker.process.pid) - cpu_before
    wall = time.monotonic() - wall_before
    if spy is not None:
        await spy.wait()
    worker.stop()
    h.stop_all()
    return {
        "open_leads": args.open_leads,
        "spread_seconds": args.spread_seconds,
        "worker_settings": settings,
        "breaches": len(created),
        "worker_cpu_seconds": round(cpu, 1),
        "worker_busy": round(cpu / wall, 2),
        "created": summary(created),
        "visible": summary(visible),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = ROOT / "var" / "bench-breach-delay"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    if args.bootstrap:
        return await measure(args, args.bootstrap, workdir)
    with Broker(workdir) as broker:
        return await measure(args, broker.bootstrap, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open-leads", type=int, default=100_000)
    parser.add_argument("--spread-seconds", type=int, default=20)
    parser.add_argument("--bootstrap", help="a running broker (default: start one)")
    parser.add_argument("--worker", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="profile the worker meanwhile (.svg, else collapsed stacks)",
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    c, v = results["created"], results["visible"]
    print(json.dumps(results))
    print(
        f"breach delay ({results['breaches']:,} of {results['open_leads']:,} breaches, deadlines"
        f" over {results['spread_seconds']} s): created p50 {c['p50_ms']} / p99 {c['p99_ms']} ms;"
        f" visible (read_committed) p50 {v['p50_ms']} / p99 {v['p99_ms']} ms;"
        f" worker CPU {results['worker_cpu_seconds']} s, busy {results['worker_busy']:.0%}"
    )


if __name__ == "__main__":
    sys.exit(main())
