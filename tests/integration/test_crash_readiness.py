"""Readiness after kill -9 under load, on the real broker (issue 10, item 8).

Without static membership the restarted worker's JoinGroup waits until the broker expires
the dead member's session (30 s by default): ready after 30.0 s, of which the changelog
read was 0.3 s. With ``group_instance_id`` the new process takes the dead one's place.
"""

from __future__ import annotations

import asyncio
import signal

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from stream_sla.simulation import SimulationPlan, simulate

from .harness import Harness, now_ms, wait_for

BURST = 20_000


async def uncommitted(harness: Harness) -> int:
    """CRM records the consumer group has not committed yet."""
    names = [harness.catalog.name(s.name) for s in harness.catalog.crm().values()]
    consumer = AIOKafkaConsumer(bootstrap_servers=harness.bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=harness.bootstrap)
    await consumer.start()
    await admin.start()
    try:
        tps = [
            TopicPartition(n, p) for n in names for p in range(harness.catalog.lead_partitions())
        ]
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(harness.app_id)
    finally:
        await consumer.stop()
        await admin.close()
    return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in tps)


async def test_a_worker_killed_under_a_burst_is_ready_again_within_10_seconds(
    harness: Harness,
) -> None:
    settings = {"group_instance_id": "w1", "session_timeout_seconds": 30}
    worker = harness.start_worker("w1", **settings)
    worker.wait_ready()
    plan = SimulationPlan(
        leads=5_000,
        start_ms=now_ms() - 3_600_000,
        leads_per_second=5_000 / 3_000,
        first_touch_target_ms=3_600_000,
        seed=7,
    )
    records = list(simulate(plan))[:BURST]
    await harness.produce([(r.kind, r.key, r.value) for r in records], batched=True)
    await asyncio.sleep(1.0)
    worker.stop(signal.SIGKILL)

    restarted = harness.start_worker("w1", **settings)
    ready_s = restarted.wait_ready(60)
    print(f"\nready after kill -9 under a {BURST:,}-event burst: {ready_s:.1f} s")
    assert ready_s < 10, restarted.log_tail()

    async def all_committed() -> bool:
        return await uncommitted(harness) == 0

    done = False
    for _ in range(120):
        if done := await all_committed():
            break
        await asyncio.sleep(0.5)
    assert done, restarted.log_tail()
    assert await wait_for(lambda: (restarted.metrics().get("stream_sla_state_leads") or 0) > 0, 5)
