"""Breaches and warnings land on the partition Kafka's default partitioner gives their lead.

The worker sends them as one producer batch per topic-partition, to an explicit partition
(cheaper than a ``send`` per record), so it picks the partition itself: it must be the one
the Java client and aiokafka would pick for the key, since the notifier reads ``sla.*``
co-partitioned by lead with the CRM topics.
"""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from stream_sla.sla.events import EventKind

from .harness import Harness, crm_event, now_ms


async def test_breaches_and_warnings_land_on_their_leads_default_partition(
    harness: Harness,
) -> None:
    worker = harness.start_worker(first_touch_within="3s", first_touch_warn_at=0.5)
    worker.wait_ready()
    leads = [f"L-{n}" for n in range(40)]
    t0 = now_ms()
    await harness.produce(
        [
            crm_event(EventKind.HANDED_TO_SALES, lead, f"h-{lead}", t0, owner="ana", team="t")
            for lead in leads
        ],
        batched=True,
    )
    partitioner = DefaultPartitioner()
    for topic in ("sla.breaches", "sla.warnings"):
        records = await harness.consume(
            topic,
            until=lambda r: len(r) >= len(leads),
            timeout=60,
            isolation_level="read_committed",
        )
        count = harness.catalog.spec(topic).partitions
        placed = {(r.key, r.partition) for r in records}
        assert len(records) == len(leads), topic
        assert {key.decode() for key, _ in placed if key is not None} == set(leads)
        assert len({p for _, p in placed}) > 1, "spread over partitions, not all on one"
        for key, partition in placed:
            assert key is not None
            assert partition == partitioner(key, list(range(count)), list(range(count))), key
