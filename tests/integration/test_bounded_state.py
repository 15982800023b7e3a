"""Bounded per-lead state on the real broker: a lead flooded with 30,000 facts stays small,
keeps its verdicts, and a later ``lost`` survives a restart.

Before issue 10 this lead's state grew to 1,047,816 bytes, every later state write was
refused (and not noticed), and after a restart the lead was open again.
"""

from __future__ import annotations

import signal

from aiokafka import AIOKafkaConsumer

from stream_sla.sla.events import EventKind

from .harness import Harness, crm_event, now_ms, wait_for

FLOOD = 15_000
"""Re-assignments, and as many repeated ``accepted`` statuses: 30,000 facts for one lead."""

STATE_BOUND = 32 * 1024
"""Bytes: what the per-lead limits (32 hand-offs, attempts and statuses, 256-character
texts) keep a lead's state record under; a real lead is a few hundred bytes."""


async def newest_state_size(harness: Harness, lead_id: str) -> int:
    consumer = AIOKafkaConsumer(
        harness.catalog.lead_state,
        bootstrap_servers=harness.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    size = 0
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1500)
            if not batch:
                return size
            for records in batch.values():
                for record in records:
                    if record.key == lead_id.encode() and record.value is not None:
                        size = len(record.value)
    finally:
        await consumer.stop()


def open_leads(worker_metrics: object) -> float:
    samples = worker_metrics.values  # type: ignore[attr-defined]
    return sum(v for (name, _), v in samples.items() if name == "stream_sla_open_leads")


async def test_a_lead_with_30000_facts_stays_bounded_and_a_later_lost_survives_a_restart(
    harness: Harness,
) -> None:
    worker = harness.start_worker("w1")
    worker.wait_ready()
    t0 = now_ms() - 120_000
    records = [crm_event(EventKind.LEAD_CREATED, "L-1", "c-1", t0, source="web_form")]
    records += [
        crm_event(EventKind.HANDED_TO_SALES, "L-1", f"h-{i}", t0 + 1 + 4 * i, owner=f"rep-{i}",
                  team="east")
        for i in range(FLOOD)
    ]  # fmt: skip
    records += [
        crm_event(EventKind.LEAD_STATUS_CHANGED, "L-1", f"s-{i}", t0 + 2 + 4 * i, status="accepted")
        for i in range(FLOOD)
    ]
    records += [
        crm_event(EventKind.CONTACT_ATTEMPT, "L-1", f"a-{i}", t0 + 3 + 4 * i, channel="call",
                  outcome="no_answer", owner="rep-1")
        for i in range(100)
    ]  # fmt: skip
    records.append(crm_event(EventKind.HANDED_TO_SALES, "L-2", "h2-1", t0, owner="x", team="east"))
    await harness.produce(records, batched=True)

    def consumed(n: int) -> bool:
        m = worker.metrics()
        total = sum(
            m.get("stream_sla_events_consumed_total", topic=harness.catalog.name(s.name)) or 0
            for s in harness.catalog.crm().values()
        )
        return total >= n

    assert await wait_for(lambda: consumed(len(records)), timeout=120), worker.log_tail()
    assert await wait_for(lambda: open_leads(worker.metrics()) == 2, timeout=10)
    m = worker.metrics()
    duplicates = sum(v for (n, _), v in m.values.items() if n.startswith("stream_sla_duplicate"))
    assert duplicates == 0, "facts over a limit are not duplicates"
    assert (
        m.get("stream_sla_lead_limit_events_total", reason="contact_attempt_over_limit") or 0
    ) == 68
    assert (m.get("stream_sla_lead_limit_events_total", reason="handed_to_sales_folded") or 0) > 0
    assert (
        m.get("stream_sla_lead_limit_events_total", reason="lead_status_changed_folded") or 0
    ) > 0

    size = await newest_state_size(harness, "L-1")
    print(f"\n30,000-facts lead: state record {size} bytes (bound {STATE_BOUND})")
    assert 0 < size < STATE_BOUND

    lost = crm_event(EventKind.LEAD_STATUS_CHANGED, "L-1", "s-lost", t0 + 4 * FLOOD, status="lost")
    await harness.produce([lost])
    assert await wait_for(lambda: open_leads(worker.metrics()) == 1, timeout=20), worker.log_tail()
    worker.stop(signal.SIGTERM)

    again = harness.start_worker("w2")
    again.wait_ready()
    assert open_leads(again.metrics()) == 1, "the lost lead came back open after a restart"
    assert again.metrics().get("stream_sla_state_leads") == 2
