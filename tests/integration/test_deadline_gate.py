"""The deadline gate: an attempt produced just before its deadline, but not yet read by the
worker when the deadline passes, still meets it.

The worker is paused (SIGSTOP) before the attempt is produced and resumed after the deadline,
so when it wakes its deadline timer is due at once while the attempt sits unread on the broker.
A control lead on the same worker, never contacted, must breach: the timer did run.
"""

from __future__ import annotations

import asyncio
import signal

from stream_sla.sla.events import EventKind

from .harness import Harness, crm_event, now_ms, values, wait_for

TARGET_MS = 5_000
HANDED, ATTEMPT = EventKind.HANDED_TO_SALES, EventKind.CONTACT_ATTEMPT


async def test_an_attempt_unread_at_its_deadline_still_meets_it(harness: Harness) -> None:
    worker = harness.start_worker(first_touch_within=f"{TARGET_MS}ms", session_timeout_seconds=45)
    worker.wait_ready()
    t0 = now_ms()
    await harness.produce(
        [
            crm_event(HANDED, "L-gate", "h-gate", t0, owner="ana", team="smb-east"),
            crm_event(HANDED, "L-control", "h-control", t0, owner="ana", team="smb-east"),
        ]
    )
    handed_topic = harness.catalog.name("crm.handed-to-sales")

    def handed_read() -> bool:
        return worker.metrics().get("stream_sla_events_consumed_total", topic=handed_topic) == 2

    assert await wait_for(handed_read, timeout=30), worker.log_tail()
    worker.process.send_signal(signal.SIGSTOP)
    try:
        deadline = t0 + TARGET_MS
        await harness.produce(
            [
                crm_event(
                    ATTEMPT, "L-gate", "a-gate", deadline - 1_000, channel="call", outcome="sent"
                )
            ]
        )
        produced_at = now_ms()
        assert produced_at < deadline, f"attempt produced {produced_at - deadline} ms too late"
        await asyncio.sleep((deadline - now_ms()) / 1000 + 2.0)
    finally:
        worker.process.send_signal(signal.SIGCONT)

    records = await harness.consume(
        "sla.breaches",
        until=lambda r: any(v["lead_id"] == "L-control" for v in values(r)),
        timeout=30,
        settle=5.0,
    )
    breached = {v["lead_id"] for v in values(records)}
    assert "L-control" in breached, "the timer never fired: the test proved nothing"
    assert "L-gate" not in breached, "breached although an attempt met the deadline"
