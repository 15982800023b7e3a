"""The "ready from the changelog" row of `make bench` alone, split into its parts.

``--leads`` open leads' states are written straight into ``sla.lead-state`` (as
:func:`bench.run.produce_states` does for `make bench`); then, ``--repeat`` times each:
- ``read``: :func:`stream_sla.stream.store.read_changelog` of every partition, in this process
  (the broker fetch and the key/value dicts: the worker's recovery read);
- ``restore``: :meth:`LeadProcessor.restore` of those rows (headers, deadlines, gauges), wall
  and CPU time;
- ``ready``: a real worker started on the topics until ``/ready`` (what `make bench` reports),
  with its RSS per recovered lead.

``--bootstrap`` uses a running broker instead of starting one (``--reuse PREFIX`` then reads
the topics an earlier run wrote, to compare commits on the same rows); ``--py-spy FILE`` records the
worker's stacks until it is ready (collapsed stacks, or a flame graph if FILE ends in .svg).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.run import ROOT, Broker, log, produce_states, rss_bytes
from stream_sla.metrics import Metrics
from stream_sla.sla.policy import Policy
from stream_sla.stream.processor import LeadProcessor
from stream_sla.stream.store import read_changelog
from tests.integration.harness import Harness

SETTINGS = {"session_timeout_seconds": 6, "closed_lead_retention": "30d"}


async def measure(args: argparse.Namespace, bootstrap: str, workdir: Path) -> dict[str, Any]:
    if args.reuse:  # topics a previous run wrote (its log names the prefix)
        h = Harness(bootstrap, workdir, prefix=args.reuse)
        state_bytes = 0
    else:
        h = Harness(bootstrap, workdir)
        await h.create_topics()
        started = time.perf_counter()
        state_bytes = await produce_states(h, args.leads)
        log(f"{args.leads:,} states written to {h.prefix} in {time.perf_counter() - started:.1f}s")
    options = {"bootstrap_servers": bootstrap}
    partitions = range(h.catalog.lead_partitions())
    reads, restores, cpu = [], [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        leads = await read_changelog(options, h.catalog.lead_state, partitions, "read_committed")
        reads.append(time.perf_counter() - started)
        processor = LeadProcessor(Policy(), Metrics())
        gc.collect()
        started, cpu_started = time.perf_counter(), time.process_time()
        for partition, rows in leads.items():
            processor.restore(partition, rows, {})
        restores.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        assert len(processor.engine) == args.leads, len(processor.engine)
        del leads, processor
        gc.collect()
    log(f"read {min(reads):.2f}s, restore {min(restores):.2f}s (CPU {min(cpu):.2f}s), best")
    empty = Harness(bootstrap, workdir / "empty")  # a worker with nothing to recover: the base
    empty.workdir.mkdir()
    await empty.create_topics()
    ready, per_lead = [], []
    for n in range(args.workers):
        idle = empty.start_worker(f"idle-{n}", **SETTINGS)
        worker = h.start_worker(f"w{n}", **SETTINGS)
        spy = None
        if args.py_spy and n == 0:
            spy = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking",
                "-p", str(worker.process.pid), "-o", args.py_spy, "-r", "100",
                "-f", "flamegraph" if args.py_spy.endswith(".svg") else "raw",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
        ready.append(worker.wait_ready(600))
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            await spy.wait()
        idle.wait_ready(600)
        recovered = int(worker.metrics().get("stream_sla_state_leads") or 0)
        per_lead.append((rss_bytes(worker) - rss_bytes(idle)) / max(recovered, 1))
        worker.stop()
        idle.stop()
        log(f"worker ready in {ready[-1]:.1f}s, {per_lead[-1]:,.0f} B RSS per lead")
    h.stop_all()
    empty.stop_all()
    return {
        "leads": args.leads,
        "state_bytes_per_lead": round(state_bytes / args.leads),
        "read_s": [round(s, 2) for s in reads],
        "restore_s": [round(s, 2) for s in restores],
        "restore_cpu_s": [round(s, 2) for s in cpu],
        "ready_s": [round(s, 1) for s in ready],
        "rss_bytes_per_lead": [round(b) for b in per_lead],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = ROOT / "var" / "bench-restore"
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "broker").mkdir(parents=True)
    with contextlib.ExitStack() as stack:
        bootstrap = args.bootstrap or stack.enter_context(Broker(workdir)).bootstrap
        return await measure(args, bootstrap, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="in-process read + restore runs")
    parser.add_argument("--workers", type=int, default=1, help="workers started until ready")
    parser.add_argument("--bootstrap", help="a running broker (default: start one)")
    parser.add_argument("--reuse", metavar="PREFIX", help="the topics of a previous run")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the first worker until ready")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    sys.exit(main())
