"""The reader's consumer group keeps a lead's topics together, whatever the member count.

Four readers share the four 6-partition CRM topics on the real broker: each must own the same
partition numbers of every topic (6 % 4 != 0, where aiokafka's default round robin splits a
partition number between members), so a lead's events, state and transactional id stay on one
worker.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import TopicPartition

from stream_sla.config import Settings
from stream_sla.stream.reader import Batch, CrmReader

from .harness import Harness


async def test_four_readers_each_own_the_same_partitions_of_every_crm_topic(
    harness: Harness,
) -> None:
    settings = Settings(
        kafka_bootstrap_servers=harness.bootstrap,
        app_id=harness.app_id,
        topic_prefix=harness.prefix,
        session_timeout_seconds=6,
    )
    topics = [harness.catalog.name(spec.name) for spec in harness.catalog.crm().values()]
    partitions = harness.catalog.lead_partitions()
    assert len(topics) == 4 and partitions == 6

    async def nothing(_: set[TopicPartition]) -> None:
        return None

    async def ignore(_: Batch) -> None:
        return None

    readers = [CrmReader(settings, topics, ignore, nothing, nothing) for _ in range(4)]
    for reader in readers:
        await reader.start()
    try:

        def owned() -> list[set[TopicPartition]]:
            return [set(r.consumer.assignment()) if r.consumer else set() for r in readers]

        deadline, previous = time.monotonic() + 60, None
        while time.monotonic() < deadline:  # until the group settles: the same shares twice
            shares = owned()
            if sum(len(s) for s in shares) == 4 * partitions and shares == previous:
                break
            previous = shares
            await asyncio.sleep(1.0)
        assert sum(len(s) for s in shares) == 4 * partitions, shares
        for share in shares:
            numbers = {tp.partition for tp in share}
            assert share == {TopicPartition(t, p) for t in topics for p in numbers}, share
    finally:
        for reader in readers:
            await reader.stop()
