"""Exactly-once outputs: one transactional producer per input partition.

Per partition and batch, one Kafka transaction holds the breaches, warnings and retractions,
the dead letters, the changelog rows and the input offsets (``send_offsets_to_transaction``);
downstream readers use ``isolation_level=read_committed`` and see all of it or none.

Why a producer per partition: aiokafka's ``send_offsets_to_transaction`` carries only the
group id, not the member's generation (no KIP-447), so the broker cannot tell a zombie (a
worker paused past its session whose partition moved on) from the owner by its offsets.
Fencing comes from the transactional id instead, as Kafka Streams did before 2.5: the id
is ``<app id>-sla-<partition>``, the same whichever worker owns the partition, and the new
owner's ``init_transactions`` (in :meth:`PartitionProducers.gain`, before it reads the
changelogs) aborts the old owner's open transaction and fences its producer. A fenced worker
ends itself (see the worker's ``_transact``): its state is stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from stream_sla.config import Settings
from stream_sla.kafka_security import aiokafka_options


def transactional_id(app_id: str, partition: int) -> str:
    return f"{app_id}-sla-{partition}"


class PartitionProducers:
    """The started transactional producer of each owned input partition."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producers: dict[int, AIOKafkaProducer] = {}

    async def gain(self, partitions: Iterable[int]) -> None:
        """Start (and so fence every earlier owner of) each partition's producer."""
        new = [p for p in sorted(set(partitions)) if p not in self._producers]
        started = await asyncio.gather(*(self._start(p) for p in new))
        self._producers.update(zip(new, started, strict=True))

    async def _start(self, partition: int) -> AIOKafkaProducer:
        settings = self.settings
        producer = AIOKafkaProducer(
            transactional_id=transactional_id(settings.app_id, partition),
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.producer_linger_ms,
            max_batch_size=1024 * 1024,
            max_request_size=4 * 1024 * 1024,
            **aiokafka_options(settings),
        )
        await producer.start()  # init_transactions: the fence
        return producer

    def producer(self, partition: int) -> AIOKafkaProducer:
        return self._producers[partition]

    async def drop(self, partitions: Iterable[int]) -> None:
        gone = [self._producers.pop(p) for p in set(partitions) if p in self._producers]
        await asyncio.gather(*(producer.stop() for producer in gone))
