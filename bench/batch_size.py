"""One worker's throughput against its batch size (issue 13): `python -m bench.batch_size`.

The worker applies each ``getmany`` batch (at most ``batch_max_events`` records) as one
engine batch and, with exactly-once on (the default), one transaction per input partition
and batch: a larger batch amortises the commit, the changelog write per lead and the
produce round trip, a smaller one bounds the latency of a batch and the memory it holds.
Each size reads the same pre-produced backfill on topics of its own (a fresh tenant, so no
state is restored from another run). ``--py-spy DIR`` records a py-spy profile of the
worker while it reads, one file per size. ``KAFKA_PORT`` / ``KAFKA_CONTROLLER_PORT`` pin the
broker's ports (free ones otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys

from bench.run import ROOT, Broker, backlog, log, produce, rss_bytes, until_consumed
from tests.integration.harness import Harness


async def run(args: argparse.Namespace) -> list[tuple[int, float, int]]:
    workdir = ROOT / "var" / "bench-batch"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    records = [(r.kind, r.key, r.value) for r in backlog(args.leads, seed=1)]
    rows = []
    broker = Broker(workdir)
    if os.environ.get("KAFKA_PORT"):
        broker.port = int(os.environ["KAFKA_PORT"])
        broker.env["KAFKA_PORT"] = str(broker.port)
        broker.env["KAFKA_CONTROLLER_PORT"] = os.environ["KAFKA_CONTROLLER_PORT"]
        broker.bootstrap = f"127.0.0.1:{broker.port}"
    with broker:
        for run_number, size in enumerate(args.sizes):
            h = Harness(broker.bootstrap, workdir / f"run-{run_number}-size-{size}")
            h.workdir.mkdir()
            await h.create_topics()
            await produce(h, records)
            worker = h.start_worker(
                "w1", batch_max_events=size, session_timeout_seconds=6, closed_lead_retention="30d"
            )
            worker.wait_ready()
            idle_rss = rss_bytes(worker)
            spy = None
            if args.py_spy:
                spy = py_spy(worker.process.pid, f"{args.py_spy}/worker-{run_number}-{size}.raw")
            first, last = await until_consumed([worker], h, len(records), timeout_s=600)
            if spy is not None:
                spy.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
                spy.wait(30)
            rate = len(records) / (last - first)
            leads = int(worker.metrics().get("stream_sla_state_leads") or 1)
            per_lead = round((rss_bytes(worker) - idle_rss) / leads)
            worker.stop()
            log(f"batch_max_events={size}: {rate:,.0f} events/s, RSS growth {per_lead:,} B a lead")
            rows.append((size, rate, per_lead))
    return rows


def py_spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    """Sample the process until SIGINT, then write a raw (collapsed stacks) profile."""
    command = ["py-spy", "record", "-r", "200", "--format", "raw", "-o", out, "-p", str(pid)]
    return subprocess.Popen(command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=12_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 2000, 5000, 10000])
    parser.add_argument(
        "--py-spy", metavar="DIR", help="profile the worker with py-spy while it reads (raw format)"
    )
    args = parser.parse_args()
    rows = asyncio.run(run(args))
    print(f"\none worker, {args.leads:,} leads backfilled, exactly-once on; load {os.getloadavg()}")
    print("| batch_max_events | events/s | RSS growth per lead |\n|---|---|---|")
    for size, rate, per_lead in rows:
        print(f"| {size:,} | {rate:,.0f} | {per_lead:,} B |")


if __name__ == "__main__":
    sys.exit(main())
