"""Exactly-once outputs (``exactly_once=true``) on the real broker, read with read_committed.

Every expected breach is seen exactly once by a ``read_committed`` reader across a kill -9,
and a stale worker whose partitions' transactional ids were taken by a new owner is fenced:
nothing it processes after the fence becomes visible, and the new owner emits each breach once.
No assertion relies on deterministic ids: breaches are counted per lead.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

from stream_sla.config import Settings
from stream_sla.sla.events import EventKind
from stream_sla.stream.transactions import PartitionProducers

from .harness import Harness, crm_event, now_ms, values

TARGET_MS = 3_000
EOS = {"exactly_once": "true", "first_touch_within": f"{TARGET_MS}ms"}


async def handed(harness: Harness, prefix: str, count: int) -> set[str]:
    t0 = now_ms()
    leads = {f"{prefix}-{i}" for i in range(count)}
    await harness.produce(
        [
            crm_event(EventKind.HANDED_TO_SALES, lead, f"h-{lead}", t0, owner="ana", team="t")
            for lead in sorted(leads)
        ],
        batched=True,
    )
    return leads


def per_lead(records: list) -> Counter[str]:  # type: ignore[type-arg]
    return Counter(v["lead_id"] for v in values(records) if "retracts" not in v)


async def test_breaches_are_committed_exactly_once_across_a_kill_9(harness: Harness) -> None:
    worker = harness.start_worker(**EOS)
    worker.wait_ready()
    first = await handed(harness, "K", 40)
    await harness.consume(
        "sla.breaches",
        until=lambda r: set(per_lead(r)) >= first,
        timeout=40,
        isolation_level="read_committed",
    )
    worker.stop(signal.SIGKILL)
    second = await handed(harness, "R", 40)  # processed by the restarted worker
    harness.start_worker(**EOS).wait_ready()
    records = await harness.consume(
        "sla.breaches",
        until=lambda r: set(per_lead(r)) >= first | second,
        timeout=60,
        settle=6,
        isolation_level="read_committed",
    )
    counts = per_lead(records)
    assert set(counts) == first | second
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n > 1}


async def test_a_stale_worker_is_fenced_once_its_partitions_transactional_ids_move(
    harness: Harness,
) -> None:
    stale = harness.start_worker(**EOS)
    stale.wait_ready()
    # The new owner's first step for each partition (see PartitionProducers.gain): its
    # producer's init_transactions, which fences every earlier producer of that id.
    settings = Settings(
        kafka_bootstrap_servers=harness.bootstrap,
        app_id=harness.app_id,
        topic_prefix=harness.prefix,
    )
    owner = PartitionProducers(settings)
    await owner.gain(range(harness.catalog.lead_partitions()))
    try:
        leads = await handed(harness, "F", 30)
        exited = None
        for _ in range(300):
            exited = stale.process.poll()
            if exited is not None:
                break
            await asyncio.sleep(0.1)
        assert exited == 75, stale.log_tail()
        assert "fenced" in stale.log_tail()
        nothing = await harness.consume(
            "sla.breaches", until=lambda r: False, timeout=6, isolation_level="read_committed"
        )
        assert not per_lead(nothing) & Counter(leads), "a fenced worker's batch became visible"
    finally:
        await owner.drop(range(harness.catalog.lead_partitions()))
    harness.start_worker(name="w2", **EOS).wait_ready()
    records = await harness.consume(
        "sla.breaches",
        until=lambda r: set(per_lead(r)) >= leads,
        timeout=60,
        settle=6,
        isolation_level="read_committed",
    )
    counts = per_lead(records)
    assert set(counts) == leads
    assert all(n == 1 for n in counts.values()), counts
