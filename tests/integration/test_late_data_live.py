"""Late data through the real worker: a breach withdrawn when an earlier hand-off arrives.

Issue 16's defect end to end: the breach of a T0 hand-off is published; a hand-off made a
second earlier then arrives late. On ``sla.breaches``: the first breach, a retraction naming
it (reason cycle_moved), and the breach of the moved cycle; one breach in effect. Both record
shapes validate against the topic's schema.
"""

from __future__ import annotations

import jsonschema

from stream_sla.sla.effects import Rule, Severity, effect_id
from stream_sla.sla.events import EventKind

from .harness import Harness, crm_event, now_ms, values, wait_for

TARGET_MS = 3_000
HANDED = EventKind.HANDED_TO_SALES


async def test_a_late_earlier_handoff_retracts_the_published_breach_and_leaves_one(
    harness: Harness,
) -> None:
    worker = harness.start_worker(first_touch_within=f"{TARGET_MS}ms")
    worker.wait_ready()
    t0 = now_ms()
    await harness.produce([crm_event(HANDED, "L-1", "h-late", t0, owner="ana", team="t")])
    first = effect_id("L-1", Rule.FIRST_TOUCH, Severity.BREACH, t0)
    await harness.consume(
        "sla.breaches", until=lambda r: first in {v["id"] for v in values(r)}, timeout=30
    )
    earlier = t0 - 1_000
    await harness.produce([crm_event(HANDED, "L-1", "h-first", earlier, owner="ana", team="t")])
    moved = effect_id("L-1", Rule.FIRST_TOUCH, Severity.BREACH, earlier)
    records = values(
        await harness.consume("sla.breaches", until=lambda r: len(r) >= 3, timeout=30, settle=5.0)
    )
    assert [(v["id"], v.get("retracts"), v.get("reason")) for v in records] == [
        (first, None, None),
        (records[1]["id"], first, "cycle_moved"),
        (moved, None, None),
    ]
    in_effect: dict[str, bool] = {}
    for v in records:
        if "retracts" in v:
            in_effect[v["retracts"]] = False
        else:
            in_effect[v["id"]] = True
    assert [i for i, live in in_effect.items() if live] == [moved]
    schema = harness.catalog.spec("sla.breaches").value_schema
    for v in records:
        jsonschema.validate(v, schema)

    def counted() -> bool:
        return (
            worker.metrics().get(
                "stream_sla_breaches_retracted_total", rule="first_touch", reason="cycle_moved"
            )
            == 1
        )

    assert await wait_for(counted, timeout=10), worker.metrics()
