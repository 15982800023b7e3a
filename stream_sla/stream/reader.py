"""The worker's data path: aiokafka's own consumer group and producer, as a Faust Service.

Why not a Faust agent (issue 13, README Benchmarks): inside an agent every message goes
through Faust's conductor, channel and stream one at a time; a bare agent that only decodes
reached ~8k events/s where aiokafka's ``getmany`` alone read ~159k. So the SLA stage reads
with an :class:`AIOKafkaConsumer` of its own (group id: the app id, static membership when
``group_instance_id`` is set) and hands whole ``getmany`` batches to the worker. Faust stays
the runtime: this Service is started and stopped with the app, next to its web views and
timers.

Partitions follow the group through :class:`_Listener`: a gained partition is paused until
its state is read back from the changelogs (the worker's ``recover``), then resumed; a
revoked one is settled first (its in-flight batch delivered and its offsets committed),
then dropped. So nothing is read twice or skipped across a rebalance; only a crash re-reads
what was processed after the last commit (at-least-once, with the same breach ids).

Partitions are shared out with the range assignor, not aiokafka's default round robin: the
range assignor gives each member the same partition numbers of every topic of equal size, so
a lead's CRM topics (and the notifier's sla.* topics) stay on one member. Round robin deals out the
sorted topic-partitions of all topics in turn: with four 6-partition topics and 4 members,
partition 0 of the first topic goes to one member and of the second to another (6 % 4 != 0),
so two members would each hold a part of a lead's events and fight over its transactional id.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, IllegalStateError
from mode import Service

from stream_sla.config import Settings
from stream_sla.kafka_security import aiokafka_options
from stream_sla.stream.memory import HeapTrim

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


FETCH_MAX_WAIT_MS = 50
"""How long the broker holds a fetch that finds nothing new (see ``complete_until``). The
deadline gate's horizon is two fetch answers old, so this is most of a breach's delay below
saturation: 100 -> 50 ms took it from p50 229-236 / p99 348-402 ms to 153-154 / 234-273 ms
(bench/profiles/breach-delay.md), for twice the idle fetches."""

IDLE_WAIT_MS = 1_000
"""How long ``getmany`` waits once a call found nothing. It returns as soon as a fetch brings
records, so this adds no latency to an event (nor to a deadline: the gate reads the fetcher's
own timestamps, and the timer fires on its own); it only stops an idle worker from waking
every ``batch_within_seconds`` (100 times a second) to find nothing."""

COPARTITIONED = (RangePartitionAssignor,)
"""The assignors of every consumer group that reads lead-keyed topics together."""


class CrmReader(Service):
    """Reads the CRM topics in batches and hands each to ``process``; owns the producer too.

    ``group_id`` (default: the app id) and ``isolation_level`` let another process read its
    own co-partitioned topics the same way: the notifier reads ``sla.*`` read_committed."""

    def __init__(
        self,
        settings: Settings,
        topics: list[str],
        process: Callable[[Batch], Awaitable[None]],
        assigned: Callable[[set[TopicPartition]], Awaitable[None]],
        revoked: Callable[[set[TopicPartition]], Awaitable[None]],
        group_id: str | None = None,
        isolation_level: str = "read_uncommitted",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.group_id = group_id or settings.app_id
        self.isolation_level = isolation_level
        self.topics = topics
        self._process = process
        self._assigned = assigned
        self._revoked = revoked
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.heap = HeapTrim()
        """The C heap's free pages go back to the system after bursts (see stream.memory)."""

    async def on_start(self) -> None:
        # aiokafka clients bind to the running loop: built here, not in __init__.
        settings = self.settings
        options = aiokafka_options(settings)
        self.producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=True,
            linger_ms=settings.producer_linger_ms,
            max_batch_size=1024 * 1024,
            max_request_size=4 * 1024 * 1024,
            **options,
        )
        self.consumer = AIOKafkaConsumer(
            group_id=self.group_id,
            group_instance_id=settings.group_instance_id or None,
            partition_assignment_strategy=COPARTITIONED,
            isolation_level=self.isolation_level,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(settings.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(max(1.0, settings.session_timeout_seconds / 10) * 1000),
            max_poll_records=settings.batch_max_events,
            # An idle partition's fetch answers after this wait: the deadline gate's "complete
            # until" (the last fetch) is at most this stale (aiokafka's default: 500 ms).
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
            **options,
        )
        await self.producer.start()
        self.consumer.subscribe(self.topics, listener=_Listener(self))
        await self.consumer.start()

    async def on_stop(self) -> None:
        # The last batch settles and commits before the consumer leaves.
        if self.consumer is not None:
            await self._revoked(set(self.consumer.assignment()))
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()

    @Service.task
    async def _read(self) -> None:
        within_ms = int(self.settings.batch_within_seconds * 1000)
        most = self.settings.batch_max_events
        consumer = self.consumer
        assert consumer is not None  # started in on_start, before any task
        wait_ms = within_ms
        while not self.should_stop:
            batch = await consumer.getmany(timeout_ms=wait_ms, max_records=most)
            if batch:
                wait_ms = within_ms
                await self._process(batch)
                self.heap.note(sum(len(records) for records in batch.values()))
            else:
                wait_ms = IDLE_WAIT_MS
                self.heap.idle()

    def started_producer(self) -> AIOKafkaProducer:
        """The producer, once the Service started (aiokafka clients bind to the running loop)."""
        if self.producer is None:
            raise RuntimeError("the reader's producer is not started")
        return self.producer

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit these next-offsets for partitions still assigned; a commit the group refuses
        (this member was fenced or is rejoining) leaves the records to their next owner."""
        consumer = self.consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        owned = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if not owned:
            return
        try:
            await consumer.commit(owned)
        except (CommitFailedError, IllegalStateError) as exc:
            log.warning("offsets not committed (re-read by the next owner): %s", exc)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, reader: CrmReader) -> None:
        self.reader = reader

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.reader._revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.reader._assigned(set(assigned))
