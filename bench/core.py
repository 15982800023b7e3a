"""Bench rows without Kafka: the SLA core's own ceilings (issue 13).

- replay of an events file: read, decode, sort and drive the engine with event time as the
  clock, as ``stream-sla replay`` does; events per second of wall time;
- the deadline sweep: the worker's ``SlaEngine.fire`` over many deadlines due at once (all
  first-touch breaches of ``open_leads`` leads handed over together); breaches per second,
  which bounds the breach delay when many deadlines fall due within a few seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson

from stream_sla.build import core_build
from stream_sla.replay import read_events, replay
from stream_sla.simulation import SimRecord
from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.engine import Retention, SlaEngine
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import Policy
from stream_sla.sla.timestamps import format_ms
from stream_sla.stream.processor import Record

ROOT = Path(__file__).resolve().parents[1]


def replay_rate(records: list[SimRecord], workdir: Path) -> dict[str, float]:
    """Events/s of a replay of these records written as one JSON Lines file, by the core this
    process runs and, when that is the compiled one, by the pure-Python core in a child
    process (the same file, the same run: their ratio is what compiling buys)."""
    path = workdir / "events.jsonl"
    path.write_bytes(
        b"\n".join(orjson.dumps({"type": r.kind.value, **orjson.loads(r.value)}) for r in records)
    )
    rates = {**replay_file_rate(path), "core_build": core_build()}
    if rates["core_build"] == "mypyc":
        env = {**os.environ, "PYTHONSAFEPATH": "1", "PYTHONPATH": str(ROOT)}
        child = subprocess.run(
            [sys.executable, "-m", "bench.core", str(path)],
            env=env, capture_output=True, check=True, text=True,
        )  # fmt: skip
        pure = json.loads(child.stdout)
        rates["pure_replay_events_per_s"] = pure["replay_events_per_s"]
    return rates


def replay_file_rate(path: Path) -> dict[str, float]:
    started = time.perf_counter()
    with path.open("rb") as lines:
        events = read_events(lines, Counter())
    result = replay(events, Policy())
    elapsed = time.perf_counter() - started
    return {"replay_events_per_s": round(result.events / elapsed), "replay_events": result.events}


def sweep_rate(open_leads: int) -> dict[str, float]:
    """Breaches/s of one sweep over ``open_leads`` first-touch deadlines due at once."""
    engine: SlaEngine[Record] = SlaEngine(Policy(), Retention())
    t0 = 1_780_000_000_000
    batch = []
    for n in range(open_leads):
        lead = f"S-{n:07d}"
        body = {
            "event_id": f"{lead}-h", "lead_id": lead, "occurred_at": format_ms(t0),
            "owner": f"rep-{n % 40}", "team": f"team-{n % 4}",
        }  # fmt: skip
        record = Record("crm.handed", 0, n, lead.encode(), orjson.dumps(body))
        batch.append((EventKind.HANDED_TO_SALES, record))
    for start in range(0, len(batch), 2000):
        engine.apply(batch[start : start + 2000], t0)
    later = t0 + 30 * 24 * 3_600_000
    started = time.perf_counter()
    due = engine.index.pop_due(later)
    outcome = engine.fire(due, later)
    engine.take_changes()  # the rows the worker writes after a sweep: encoded here
    elapsed = time.perf_counter() - started
    breaches = sum(
        1 for e in outcome.effects if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    )
    return {"sweep_breaches": breaches, "sweep_breaches_per_s": round(breaches / elapsed)}


if __name__ == "__main__":  # the pure-Python replay row: python -m bench.core EVENTS.jsonl
    rate = replay_file_rate(Path(sys.argv[1]))
    print(json.dumps({**rate, "core_build": core_build()}))
