"""The engine's rows as CPU time, for a shared machine: `python -m bench.engine_cpu`.

Wall-clock rates move with whatever else runs on the cores; CPU time of this process moves
much less, and the best of a few runs less still. Two commits compare by running this module
in a worktree of each, interleaved (README "Benchmarks", issue 13 item 4):

- replay of the bench's backfill read from a JSON Lines file (read, sort, the engine, the
  report's rollup), as ``stream-sla replay`` does;
- the worker's per-batch path without the broker: ``LeadProcessor.apply`` over the same
  records in batches of ``--batch`` (decode, group by lead, assess, settle, sinks) and
  ``take_changes`` after each, as the worker calls it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry

from bench.run import backlog
from stream_sla.metrics import Metrics
from stream_sla.replay import read_events, replay
from stream_sla.simulation import SimRecord
from stream_sla.sla.policy import Policy
from stream_sla.stream.processor import LeadProcessor, Record


def replay_cpu(records: list[SimRecord], path: Path) -> float:
    path.write_bytes(
        b"\n".join(orjson.dumps({"type": r.kind.value, **orjson.loads(r.value)}) for r in records)
    )
    started = time.process_time()
    with path.open("rb") as lines:
        result = replay(read_events(lines, Counter()), Policy())
    return result.events / (time.process_time() - started)


def batches_cpu(records: list[SimRecord], batch: int) -> float:
    processor = LeadProcessor(Policy(), Metrics(CollectorRegistry()))
    placed = [
        (r.kind, Record(f"crm.{r.kind.value}", n % 6, n, r.key, r.value))
        for n, r in enumerate(records)
    ]
    started = time.process_time()
    for start in range(0, len(placed), batch):
        processor.apply(placed[start : start + batch])
        processor.take_changes()
    return len(placed) / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is printed")
    args = parser.parse_args()
    records = backlog(args.leads, seed=1)
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "events.jsonl"
        replayed = max(replay_cpu(records, path) for _ in range(args.repeat))
    applied = max(batches_cpu(records, args.batch) for _ in range(args.repeat))
    print(f"{len(records):,} events of {args.leads:,} leads, best of {args.repeat} (CPU time)")
    print(f"replay of a file          {replayed:,.0f} ev/s")
    print(f"LeadProcessor.apply       {applied:,.0f} ev/s (batches of {args.batch:,})")


if __name__ == "__main__":
    sys.exit(main())
