"""The engine's rows as CPU time, for a shared machine: `python -m bench.engine_cpu`.

Wall-clock rates move with whatever else runs on the cores; CPU time of this process moves
much less, and the best of a few runs less still. Two commits compare by running this module
in a worktree of each, interleaved (README "Benchmarks", issue 13 item 4):

- replay of the bench's backfill read from a JSON Lines file (read, sort, the engine, the
  report's rollup), as ``stream-sla replay`` does;
- the worker's per-batch path without the broker: ``LeadProcessor.apply`` over the same
  records in batches of ``--batch`` (decode, group by lead, assess, settle, sinks) and
  ``take_changes`` after each, as the worker calls it;
- the deadline sweep: ``--open-leads`` leads handed over within 20 s, their rows flushed (as
  after the worker's batches), then the clock walked in ticks of 250 ms through the 20 s in
  which their first-touch warnings fall due and the 20 s of their breaches: ``pop_due``,
  ``SlaEngine.fire`` and ``take_changes`` per tick, as the worker's deadline timer does.
  Deadlines fired per CPU second: the breach delay's limit without Kafka (100,000 deadlines
  due within 20 s need >= 5,000/s; a p99 of 1 s needs about 20 times that).
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
from stream_sla.sla.engine import Placed, RecordLike, Retention, SlaEngine
from stream_sla.sla.events import EventKind, HandedToSales, LeadCreated
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


T0 = 1_780_000_000_000
TICK_MS = 250


def fire_cpu(open_leads: int) -> tuple[float, int]:
    """(deadlines fired per CPU second, deadlines fired) over the warnings' and breaches'
    20 s windows of ``open_leads`` first-touch deadlines (default policy: warn at 45 min,
    breach at 60 min)."""
    engine: SlaEngine[RecordLike] = SlaEngine(Policy(), Retention())
    spread = 20_000
    placed = []
    for n in range(open_leads):
        lead = f"F-{n:07d}"
        at = T0 + n * spread // open_leads
        placed.append(
            Placed(
                0,
                "crm.lead-created",
                EventKind.LEAD_CREATED,
                LeadCreated(f"{lead}-c", lead, at, "web"),
            )
        )
        handed = HandedToSales(f"{lead}-h", lead, at, f"rep-{n % 40}", f"team-{n % 4}")
        placed.append(Placed(0, "crm.handed-to-sales", EventKind.HANDED_TO_SALES, handed))
    for start in range(0, len(placed), 2_000):
        engine.apply_events(placed[start : start + 2_000], T0 + spread)
        engine.take_changes()
    fired = 0
    started = time.process_time()
    for window in (45 * 60_000, 60 * 60_000):
        for now in range(T0 + window, T0 + window + spread + TICK_MS, TICK_MS):
            due = engine.pop_due(now)
            if due:
                fired += len(due)
                engine.fire(due, now)
                engine.take_changes()
    return fired / (time.process_time() - started), fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--open-leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is printed")
    args = parser.parse_args()
    records = backlog(args.leads, seed=1)
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "events.jsonl"
        replayed = max(replay_cpu(records, path) for _ in range(args.repeat))
    applied = max(batches_cpu(records, args.batch) for _ in range(args.repeat))
    fire = max(fire_cpu(args.open_leads) for _ in range(args.repeat))
    print(f"{len(records):,} events of {args.leads:,} leads, best of {args.repeat} (CPU time)")
    print(f"replay of a file          {replayed:,.0f} ev/s")
    print(f"LeadProcessor.apply       {applied:,.0f} ev/s (batches of {args.batch:,})")
    print(f"SlaEngine.fire            {fire[0]:,.0f} deadlines/s ({fire[1]:,} due in 2 x 20 s)")


if __name__ == "__main__":
    sys.exit(main())
