"""Readiness: ``/ready`` answers 503 until the state is recovered, and no deadline fires before;
``/live`` answers while the process runs.

The changelog is filled before the worker starts (150,000 leads, one of them overdue), so
recovery takes long enough to watch. The overdue breach must fire, once, late, with its
original deadline, and the broker must have it only after the last 503 was asked for.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from stream_sla.sla.events import HandedToSales
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import dump_state
from stream_sla.sla.timestamps import format_ms

from .harness import Harness, now_ms, values

FILLER_LEADS = 150_000
HOUR = 3_600_000


async def fill_changelog(harness: Harness, overdue_lead: str, handed_at: int) -> None:
    partitions = harness.catalog.lead_partitions()
    topic = harness.catalog.lead_state
    overdue = LeadState(overdue_lead)
    overdue.add(HandedToSales("h-overdue", overdue_lead, handed_at, "ana", "smb-east"))
    assessment = overdue.take_assessment(Policy(), None, 7 * 24 * HOUR, 90 * 24 * HOUR)
    empty = dump_state(LeadState("filler"))
    changes: dict[int, dict[str, bytes]] = {p: {} for p in range(partitions)}
    for i in range(FILLER_LEADS):
        changes[i % partitions][f"F-{i}"] = empty
    partition = DefaultPartitioner()(overdue_lead.encode(), list(range(partitions)), [])
    changes[partition][overdue_lead] = dump_state(overdue, assessment.wake_at, assessment.summary)
    producer = AIOKafkaProducer(bootstrap_servers=harness.bootstrap, acks="all")
    await producer.start()
    try:  # record batches, as the worker writes its changelog: 150,000 sends would be slow
        sent = []
        for partition, rows in changes.items():
            batch = producer.create_batch()
            for key, value in rows.items():
                while batch.append(key=key.encode(), value=value, timestamp=None) is None:
                    sent.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
            sent.append(await producer.send_batch(batch, topic, partition=partition))
        for future in sent:
            await future
    finally:
        await producer.stop()


async def test_ready_is_503_until_state_is_recovered_and_no_deadline_fires_before(
    harness: Harness,
) -> None:
    handed_at = now_ms() - 2 * HOUR  # first touch fell due an hour ago
    await fill_changelog(harness, "L-overdue", handed_at)
    worker = harness.start_worker()

    polls: list[tuple[int, int, int]] = []  # (asked at ms, /live status, /ready status)
    started = time.monotonic()
    while time.monotonic() - started < 120:
        assert worker.process.poll() is None, worker.log_tail()
        asked_at = now_ms()
        try:
            live, body = worker.get("/live")
            ready = worker.get("/ready")[0]
        except OSError:
            await asyncio.sleep(0.05)
            continue  # the web server is not up yet
        assert live == 200 and orjson.loads(body) == {"live": True}
        polls.append((asked_at, live, ready))
        if ready == 200:
            break
        assert ready == 503, ready
        await asyncio.sleep(0.05)
    assert polls and polls[-1][2] == 200, worker.log_tail()
    not_ready = [asked_at for asked_at, _, ready in polls if ready == 503]
    assert not_ready, "never saw /ready answer 503 while /live answered: recovery not observed"

    [record] = await harness.consume(
        "sla.breaches", until=lambda r: len(r) >= 1, timeout=60, settle=3.0
    )
    [breach] = values([record])
    assert (breach["lead_id"], breach["rule"]) == ("L-overdue", "first_touch")
    assert breach["deadline_at"] == format_ms(handed_at + HOUR)
    assert breach["late_by_seconds"] > 3_000  # fired once on recovery, late, original deadline
    assert record.timestamp >= max(not_ready), (
        f"a deadline fired {max(not_ready) - record.timestamp} ms before /ready said 503"
    )
    print(
        f"\nreadiness: {len(not_ready)} answers 503 over "
        f"{(polls[-1][0] - not_ready[0]) / 1000:.1f}s, then 200; breach "
        f"{(record.timestamp - max(not_ready)) / 1000:.2f}s after the last 503"
    )
