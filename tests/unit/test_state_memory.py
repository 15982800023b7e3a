"""What a lead costs in the worker's memory: the bench's RSS rows, checked without Kafka."""

from __future__ import annotations

import gc
import tracemalloc

import orjson

from stream_sla.sla.engine import SlaEngine
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import Policy
from stream_sla.sla.timestamps import format_ms
from stream_sla.stream.processor import Record

T0 = 1_780_000_000_000
LEADS = 2_000


def handoffs(count: int) -> list[tuple[EventKind, Record]]:
    batch = []
    for n in range(count):
        lead = f"M-{n:07d}"
        body = {
            "event_id": f"{lead}-h", "lead_id": lead, "occurred_at": format_ms(T0 + n),
            "owner": f"rep-{n % 40}", "team": f"team-{n % 4}",
        }  # fmt: skip
        batch.append(
            (
                EventKind.HANDED_TO_SALES,
                Record("crm.handed", n % 3, n, lead.encode(), orjson.dumps(body)),
            )
        )
    return batch


def test_an_open_lead_applied_live_costs_the_engine_under_a_kib() -> None:
    """Live leads are kept as rows the engine wrote (not read back from Kafka); each row must
    cost its length, not the encoder's output buffer (orjson's is 4 KiB)."""
    engine: SlaEngine[Record] = SlaEngine(Policy())
    batch = handoffs(LEADS)
    gc.collect()
    tracemalloc.start()
    try:
        for start in range(0, LEADS, 500):
            engine.apply(batch[start : start + 500], T0 + LEADS)
            engine.take_changes()
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(engine) == LEADS
    assert held / LEADS < 1024
