"""Owners' absences in: ``crm.owner-availability`` read whole by every worker, as a global table.

Absences are per owner, leads are partitioned by lead id: any worker may hold a lead of any
owner, so each reads every partition of this small compacted topic from the beginning, with
no consumer group and no committed offsets (it is re-read at each start, like a Kafka Streams
global table). The worker applies no CRM batch and fires no deadline until the topic is read
up to the end offsets it had at start (``loaded``), and a deadline only once the topic is
caught up to a fetch later than it (:meth:`complete_until`): an absence recorded before a
deadline cannot be missed because it was still unread, so live decides what a replay decides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from mode import Service

from stream_sla.config import Settings
from stream_sla.kafka_security import aiokafka_options
from stream_sla.sla.availability import Absence, decode_absence
from stream_sla.sla.events import EventRejected
from stream_sla.stream.processor import Record

log = logging.getLogger(__name__)

Apply = Callable[[list[Absence], list[tuple[Record, EventRejected]]], Awaitable[None]]


class AvailabilityReader(Service):
    """Reads the availability topic from the beginning, forever; hands decoded batches on."""

    def __init__(self, settings: Settings, topic: str, apply: Apply, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.topic = topic
        self._apply = apply
        self.consumer: AIOKafkaConsumer | None = None
        self.loaded = asyncio.Event()
        """Set once every partition was read up to its end offset at start."""
        self._ends: dict[TopicPartition, int] = {}
        self._next: dict[TopicPartition, int] = {}
        """Per partition, the offset after the last record applied."""

    async def on_start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **aiokafka_options(self.settings),
        )
        await self.consumer.start()
        await self.consumer.topics()  # metadata, so the topic's partitions are known
        numbers = self.consumer.partitions_for_topic(self.topic) or {0}
        partitions = [TopicPartition(self.topic, n) for n in sorted(numbers)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        self._ends = await self.consumer.end_offsets(partitions)
        if not any(self._ends.values()):
            self.loaded.set()

    async def on_stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    @Service.task
    async def _read(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while not self.should_stop:
            batch = await consumer.getmany(timeout_ms=200, max_records=1000)
            absences: list[Absence] = []
            rejected: list[tuple[Record, EventRejected]] = []
            for tp, rows in batch.items():
                if rows:
                    self._next[tp] = rows[-1].offset + 1
                for m in rows:
                    record = Record(tp.topic, tp.partition, m.offset, m.key, m.value or b"")
                    try:
                        absences.append(decode_absence(m.key, record.value))
                    except EventRejected as exc:
                        rejected.append((record, exc))
            if absences or rejected:
                await self._apply(absences, rejected)
            if not self.loaded.is_set() and all(
                self._next.get(tp, 0) >= end for tp, end in self._ends.items()
            ):
                log.info("owners' availability read: %d partitions", len(self._ends))
                self.loaded.set()

    def complete_until(self) -> int | None:
        """Until when every availability record is known to be applied: the oldest last
        fetch over the partitions, each read up to its high watermark (None: not yet)."""
        consumer = self.consumer
        if consumer is None or not self.loaded.is_set():
            return None
        complete: int | None = None
        for tp in self._ends:
            try:
                highwater = consumer.highwater(tp)
                polled = consumer.last_poll_timestamp(tp)
            except Exception:  # no fetch yet
                return None
            if highwater is None or polled is None or self._next.get(tp, 0) < highwater:
                return None
            complete = int(polled) if complete is None else min(complete, int(polled))
        return complete
