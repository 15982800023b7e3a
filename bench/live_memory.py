"""The "RSS growth per lead, live backfill" row of `make bench` alone.

As in `make bench`: ``--leads`` leads' backlog is pre-produced, one worker starts on it (its RSS
at /ready is the base), reads it, then reads ``--open-leads`` hand-offs whose warnings are due
as they are read and whose first-touch deadlines fall ``--ahead-seconds`` after they were
produced, over 20 s. The RSS growth per lead is printed at the moment the hand-offs are counted
(transactions in flight) and ``--settle-seconds`` later (what `make bench`'s row reads, after
the breaches). ``--bootstrap`` uses a running broker; ``--worker KEY=VALUE`` passes settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bench.breach_delay import handoffs
from bench.run import backlog, log, produce, rss_bytes, until_consumed, with_broker
from tests.integration.harness import Harness, now_ms


async def measure(args: argparse.Namespace, bootstrap: str, workdir: Path) -> dict[str, Any]:
    h = Harness(bootstrap, workdir)
    await h.create_topics()
    records = backlog(args.leads, seed=1)
    await produce(h, [(r.kind, r.key, r.value) for r in records])
    settings: dict[str, Any] = {"session_timeout_seconds": 6, "closed_lead_retention": "30d"}
    settings.update(dict(item.split("=", 1) for item in args.worker))
    worker = h.start_worker("w1", **settings)
    worker.wait_ready()
    idle = rss_bytes(worker)
    await until_consumed([worker], h, len(records), timeout_s=600)
    base = now_ms() + args.ahead_seconds * 1000
    opened = handoffs(args.open_leads, base, 20_000)
    await produce(h, opened)
    await until_consumed([worker], h, len(records) + len(opened), timeout_s=600)
    at_once = rss_bytes(worker)
    await asyncio.sleep(args.settle_seconds)
    settled = rss_bytes(worker)
    leads = int(worker.metrics().get("stream_sla_state_leads") or 1)
    worker.stop()
    h.stop_all()
    result = {
        "state_leads": leads,
        "idle_rss_mb": round(idle / 2**20, 1),
        "rss_bytes_per_lead_at_once": round((at_once - idle) / leads),
        "rss_bytes_per_lead_settled": round((settled - idle) / leads),
    }
    log(str(result))
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    return await with_broker(
        "bench-live-memory",
        args.bootstrap,
        lambda bootstrap, workdir: measure(args, bootstrap, workdir),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=12_000, help="leads in the backlog")
    parser.add_argument("--open-leads", type=int, default=100_000)
    parser.add_argument("--ahead-seconds", type=int, default=30, help="first deadline after")
    parser.add_argument("--settle-seconds", type=float, default=60)
    parser.add_argument("--bootstrap", help="a running broker (default: start one)")
    parser.add_argument("--worker", action="append", default=[], metavar="KEY=VALUE")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    sys.exit(main())
