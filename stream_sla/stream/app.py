"""The worker: CRM topics -> aiokafka batches -> lead state -> breach topics; deadlines.

Design (see shared ENGINEERING-NOTES, "A deadline design that survives restarts", and the
profile in the README's Benchmarks section):
- Faust is the runtime (worker command, web views, the deadline timer, lifecycle); the data
  path is :class:`~stream_sla.stream.reader.CrmReader`, aiokafka's own consumer group over
  all four CRM topics (co-partitioned by lead id) and producer, a Service of the app: Faust's
  per-message agent path capped the stage at ~8k events/s (issue 13). Each ``getmany``
  batch goes to :class:`LeadProcessor`.
- Lead state lives in memory per partition (the engine's :class:`PartitionState`) and in a compacted
  changelog topic written once per batch; a partition gained in a rebalance stays paused
  until it is read from its changelog, and is settled, committed and dropped when revoked.
- An in-memory :class:`DeadlineIndex`, rebuilt from the wake-up stored with each state.
- A timer on every worker pops due deadlines of its own partitions, but only of partitions
  whose CRM input is caught up (an attempt that met the deadline may still be unread), and
  evaluates them in place. A lock keeps a batch and a sweep from interleaving, so state
  changes stay ordered.
- Every record produced is acknowledged by the broker before the batch's events are
  acknowledged to Faust (so before their offsets can be committed), violations and dead
  letters before the state that records them; a refusal stops progress, and past the retry
  budget ends the process with nothing of the batch committed (:mod:`delivery`). Offsets
  are committed by the reader after the batch settled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import faust
import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, ProducerFenced
from faust.app.base import BootStrategy
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream_sla.config import Settings
from stream_sla.kafka_security import aiokafka_options, faust_credentials
from stream_sla.metrics import CONSUMER_LAG, CrmLabels, Metrics
from stream_sla.objectives import PolicyTargets
from stream_sla.replay import default_partition
from stream_sla.sla.availability import Absence
from stream_sla.sla.deadlines import Slice
from stream_sla.sla.effects import Severity
from stream_sla.sla.events import EventKind, EventRejected
from stream_sla.stream import status
from stream_sla.stream.availability import AvailabilityReader
from stream_sla.stream.dead_letters import BROKER_DEFAULT_MAX_MESSAGE_BYTES, dead_letter_parcel
from stream_sla.stream.delivery import (
    EXIT_PRODUCE_REFUSED,
    Delivery,
    Parcel,
    ProduceRefused,
    Sent,
)
from stream_sla.stream.memory import freeze_restored
from stream_sla.stream.processor import (
    LeadProcessor,
    Outbox,
    Record,
    Retention,
    wall_clock_ms,
)
from stream_sla.stream.reader import Batch, CrmReader
from stream_sla.stream.store import changelog_parcels, read_changelog
from stream_sla.stream.transactions import PartitionProducers
from stream_sla.stream.web_auth import WebAuth
from stream_sla.tally import MqlTally
from stream_sla.topics import TopicCatalog

log = logging.getLogger(__name__)

SWEEP_SLICE = 1000
"""Most deadlines a sweep fires before it lets the event loop run (profile in
bench/profiles/breach-delay.md): at ~0.3 ms a deadline, about 0.3 s; one sweep of a whole
due set (tens of thousands at once) held the loop for seconds, so no fetch was taken, the gate's
horizon stayed behind by as long, and every later breach waited for it."""

GATED_POLL_SECONDS = 0.02
"""How soon a sweep looks again at deadlines due but behind the gate (a fetch answer moves it)."""


def raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> faust.TopicT:
    """Bytes in, bytes out: we decode once with orjson and never re-serialise what we pass on."""
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def exit_refused(message: str) -> NoReturn:
    """End the process at once: no Faust shutdown, which would acknowledge and commit the batch
    whose records Kafka refused. Like a crash (kill -9), which the design already survives."""
    logging.shutdown()
    os._exit(EXIT_PRODUCE_REFUSED)


def log_critical(message: str) -> str:
    log.critical(message)
    return message


class _NoFaustKafka(BootStrategy):
    """Faust starts no Kafka consumer, producer or conductor: the reader is the data path."""

    enable_kafka = False


class ReaderApp(faust.App):
    """A Faust app whose Kafka data path is a reader Service of ours (the worker, the notifier)."""

    BootStrategy = _NoFaustKafka


class SlaWorker:
    """Builds the Faust app for one set of settings; ``app`` is what Faust runs."""

    def __init__(
        self,
        settings: Settings,
        catalog: TopicCatalog | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.settings = settings
        self.catalog = catalog or TopicCatalog.load(settings.topics_dir, settings.topic_prefix)
        policy = settings.policy()
        self.metrics = metrics or Metrics(
            labels=CrmLabels.from_policy(
                policy,
                reps=settings.known_reps,
                teams=settings.known_teams,
                buckets=settings.label_buckets,
            )
        )
        self.clock = clock
        self.partitions = self.catalog.lead_partitions()
        self._position: dict[TopicPartition, int] = {}
        """Per owned CRM topic-partition, the next offset to process (set once recovered)."""
        self._fetches: dict[TopicPartition, tuple[int | None, int]] = {}
        """Per owned CRM topic-partition, the two newest fetch answers' arrival times seen."""
        self._joined = False
        self._recovered: dict[int, asyncio.Event] = {}
        """The lead partitions this worker owns, each set once its state is in memory."""
        self._recovery: asyncio.Task[None] | None = None
        self._settling: asyncio.Future[None] | None = None
        self._sweeps: set[asyncio.Future[None]] = set()
        """The previous batch's delivery, awaited before the next batch returns."""
        self._lock = asyncio.Lock()
        self._rebalancing = False
        self.app = ReaderApp(
            settings.app_id,
            broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
            broker_credentials=faust_credentials(settings),
            store="memory://",  # Faust keeps no tables for us: see stream.store
            datadir=str(settings.data_dir),
            autodiscover=False,
            web_enabled=True,
            web_bind=settings.web_host,
            web_port=settings.web_port,
            web_in_thread=False,
            web_tables_enabled=False,
            web_router_enabled=False,
            topic_partitions=self.partitions,
            topic_replication_factor=settings.topic_replication_factor,
            topic_disable_leader=True,
            table_standby_replicas=0,
        )
        self.processor = LeadProcessor(
            policy,
            self.metrics,
            clock=clock,
            retention=Retention(settings.closed_lead_retention, settings.idle_lead_retention),
        )
        self.engine = self.processor.engine
        self.tally = MqlTally(self.engine.mql_rows, policy.marketing, clock)
        self.metrics.registry.register(self.tally)
        self.metrics.registry.register(_LagCollector(self))
        self.metrics.registry.register(PolicyTargets(policy, clock))
        self._kinds = {
            self.catalog.name(spec.name): kind for kind, spec in self.catalog.crm().items()
        }
        for topic in self._kinds:
            # A series at 0 from the start: a worker restarted while the CRM is silent has a
            # rate of 0 the stall alert can see (no series at all would keep it quiet).
            self.metrics.events_consumed.labels(topic)
        self._breaches = self.catalog.breaches
        self._warnings = self.catalog.warnings
        self._reroutes = self.catalog.name("sla.reroutes")
        self._output_partitions = {
            self._breaches: self.catalog.spec("sla.breaches").partitions,
            self._warnings: self.catalog.spec("sla.warnings").partitions,
            self._reroutes: self.catalog.spec("sla.reroutes").partitions,
        }
        self._dead_letter = self.catalog.dead_letter
        self._dead_letter_max_bytes = self.catalog.max_message_bytes(
            "sla.dead-letter", BROKER_DEFAULT_MAX_MESSAGE_BYTES
        )
        self._dead_letter_partitions = self.catalog.spec("sla.dead-letter").partitions
        self.delivery = Delivery(
            self._producer,
            self.metrics.produce_failures,
            retry_seconds=settings.produce_retry_seconds,
            give_up=exit_refused,
        )
        # Static membership and the group id are the reader's (README, Operations).
        self.reader = CrmReader(
            settings, list(self._kinds), self._process, self._on_assigned, self._on_revoked
        )
        self.app.add_dependency(self.reader)
        self.transactions = PartitionProducers(settings) if settings.exactly_once else None
        self.app.timer(settings.tick_interval_seconds, name="deadline-timer")(self.fire_due)
        self._pages()
        # Owners' availability (issue 15): a global table, read only when a rule follows people.
        self.availability: AvailabilityReader | None = None
        if policy.follows_people():
            self.engine.availability = settings.availability()
            self.availability = AvailabilityReader(
                settings, self.catalog.name("crm.owner-availability"), self._absences
            )
            self.app.add_dependency(self.availability)

    async def _absences(
        self, absences: list[Absence], rejected: list[tuple[Record, EventRejected]]
    ) -> None:
        """Absence records applied to the engine (its owners' open leads wake up), bad ones
        dead-lettered; counted like CRM records."""
        async with self._lock:
            self.engine.apply_absences(absences, self.clock())
        topic = self.catalog.name("crm.owner-availability")
        self.metrics.events_consumed.labels(topic).inc(len(absences) + len(rejected))
        if rejected:
            for _, exc in rejected:
                self.metrics.dead_letters.labels(exc.reason.value).inc()
            await self.delivery.deliver(self._dead_letters(Outbox(dead_letters=rejected)))

    @property
    def ready(self) -> bool:
        """Joined the group and every owned partition's state is in memory."""
        return (
            self._joined
            and all(e.is_set() for e in self._recovered.values())
            and (self.availability is None or self.availability.loaded.is_set())
        )

    def _producer(self) -> AIOKafkaProducer:
        return self.reader.started_producer()

    # -- events ----------------------------------------------------------------

    async def _process(self, batch: Batch) -> None:
        """One ``getmany`` batch: applied, its records handed to the producer; then the
        previous batch's delivery is awaited (at most one batch waits for the broker) while
        this one settles and commits its offsets in the background, in order."""
        # A partition is paused until recovered, so this filter drops nothing in steady state.
        if self.availability is not None:
            await self.availability.loaded.wait()  # owners' absences before any lead
        # Each owned partition's recovery event stands for this ownership of it: compared again
        # under the lock, it tells a partition revoked (and perhaps gained again) meanwhile.
        owners = {p: done for p, done in self._recovered.items() if done.is_set()}
        async with self._lock:
            records, offsets = self._still_owned(batch, owners)
            if not records:
                return
            if self.transactions is not None:
                await self._apply_transacted(records, offsets)
                return
            outbox = self.processor.apply(records)
            await self._send(outbox)  # retractions (late data), acknowledged
            sent = await self.delivery.send(self._dead_letters(outbox) + self._state_parcels())
            self._position.update(offsets)
        previous = self._settling
        self._settling = asyncio.ensure_future(self._settle(sent, offsets, previous))
        if previous is not None:
            await previous

    def _still_owned(
        self, batch: Batch, owners: dict[int, asyncio.Event]
    ) -> tuple[list[tuple[EventKind, Record]], dict[TopicPartition, int]]:
        """The batch's records, and next offsets, of partitions owned when it was read and
        still owned now. A revocation waits for the lock, but this batch may have waited for
        it behind the revocation: its records of a revoked partition belong to the next owner
        (applying them to dropped state, or committing them, would fork the partition)."""
        kinds, recovered = self._kinds, self._recovered
        kept = {
            tp: rows
            for tp, rows in batch.items()
            if rows
            and tp.partition in owners
            and recovered.get(tp.partition) is owners[tp.partition]
        }
        records = [
            (kinds[tp.topic], Record(tp.topic, tp.partition, m.offset, m.key, m.value or b""))
            for tp, rows in kept.items()
            for m in rows
        ]
        return records, {tp: rows[-1].offset + 1 for tp, rows in kept.items()}

    async def _apply_transacted(
        self, records: list[tuple[EventKind, Record]], offsets: dict[TopicPartition, int]
    ) -> None:
        """Exactly-once: each partition's part of the batch in one transaction with its offsets.

        The partitions' transactions run side by side, as a sweep's do, each started as soon as
        its part is applied (its own producer: the fence), and all are committed before the
        next batch: one after the other, their round trips (records, offsets, commit) left the
        worker waiting on the broker for about a sixth of a backfill."""
        by_partition: dict[int, list[tuple[EventKind, Record]]] = {}
        for kind, record in records:
            by_partition.setdefault(record.partition, []).append((kind, record))
        pending: list[asyncio.Future[None]] = []
        for partition, part in by_partition.items():
            outbox = self.processor.apply(part)
            mine = {tp: offset for tp, offset in offsets.items() if tp.partition == partition}
            parcels = self._violations(outbox) + self._dead_letters(outbox)
            pending.append(
                asyncio.ensure_future(
                    self._transact(partition, parcels + self._state_parcels(), mine)
                )
            )
            await asyncio.sleep(0)  # its records go out while the next partition is applied
        await asyncio.wait(pending)
        for done in pending:
            done.result()  # a failure other than those _transact handles: raised here
        self._position.update(offsets)

    async def _transact(
        self, partition: int, parcels: list[Parcel], offsets: dict[TopicPartition, int]
    ) -> None:
        """One transaction on the partition's own producer. A refusal aborts it and the whole
        transaction is sent again (a transaction in error takes no more records) with a
        doubling backoff for ``produce_retry_seconds``, then exit 75, nothing committed. A fenced
        producer ends the process at once: another worker owns the partition now."""
        assert self.transactions is not None
        producer = self.transactions.producer(partition)
        once = Delivery(lambda: producer, self.metrics.produce_failures, retry_seconds=0.0)
        started, backoff = time.monotonic(), 0.25
        while True:
            try:
                async with producer.transaction():
                    await once.deliver(parcels)
                    if offsets:
                        await producer.send_offsets_to_transaction(offsets, self.settings.app_id)
                return
            except (ProduceRefused, KafkaError) as exc:
                cause = exc.__cause__ if isinstance(exc, ProduceRefused) else exc
                if isinstance(cause, ProducerFenced) or isinstance(exc, ProducerFenced):
                    exit_refused(
                        log_critical(f"partition {partition}: producer fenced by a new owner")
                    )
                elapsed = time.monotonic() - started
                if elapsed + backoff > self.settings.produce_retry_seconds:
                    exit_refused(log_critical(f"partition {partition}: gave up: {exc}"))
                log.error(
                    "partition %d: transaction aborted (%s), again in %.2fs",
                    partition,
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                parcels = [p.refresh() if p.refresh else p for p in parcels]

    async def _settle(
        self,
        sent: Sent,
        offsets: dict[TopicPartition, int],
        previous: asyncio.Future[None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # offsets are committed in batch order
        await self.delivery.settle(sent)  # or the process ends: nothing of the batch committed
        await self.reader.commit(offsets)

    async def _send(self, outbox: Outbox) -> None:
        """Violations and retractions, acknowledged by the broker before this returns (before
        the state that records them may be written)."""
        parcels = self._violations(outbox)
        if parcels:
            await self.delivery.deliver(parcels)

    def _violations(self, outbox: Outbox) -> list[Parcel]:
        """Breaches, warnings, re-routes and retractions: one parcel (one producer batch) per
        topic-partition, the partition Kafka's default partitioner gives the lead id, in order.
        Per record, ``AIOKafkaProducer.send`` and a delivery future each cost more than the
        record's encoding (profile: bench/profiles/breach-delay.md)."""
        grouped: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, tuple[()]]]] = {}
        partitions = self._output_partitions
        for v in outbox.violations:
            topic = (
                self._breaches
                if v.severity is Severity.BREACH
                else self._reroutes
                if v.severity is Severity.REROUTE
                else self._warnings
            )
            key = v.lead_id.encode()
            target = (topic, default_partition(key, partitions[topic]))
            grouped.setdefault(target, []).append((key, orjson.dumps(v.to_record()), ()))
        for r in outbox.retractions:
            key = r.lead_id.encode()
            target = (self._breaches, default_partition(key, partitions[self._breaches]))
            grouped.setdefault(target, []).append((key, orjson.dumps(r.to_record()), ()))
        return [
            Parcel(topic, records, partition=partition)
            for (topic, partition), records in grouped.items()
        ]

    def _dead_letters(self, outbox: Outbox) -> list[Parcel]:
        return [
            dead_letter_parcel(
                self._dead_letter,
                self._dead_letter_partitions,
                self._dead_letter_max_bytes,
                record,
                rejected.reason.value,
                rejected.detail,
            )
            for record, rejected in outbox.dead_letters
        ]

    def _state_parcels(self) -> list[Parcel]:
        """The engine's changed rows since the last call (leads, then tallies)."""
        changes, engine = self.engine.take_changes(), self.engine
        catalog = self.catalog
        return changelog_parcels(
            catalog.lead_state, changes.leads, engine.lead_row, engine.owns
        ) + changelog_parcels(catalog.mql_tally, changes.tallies, engine.tally_row, engine.owns)

    # -- deadlines -------------------------------------------------------------

    async def fire_due(self) -> None:
        """Evaluate every due deadline of a partition whose input is complete up to it.

        In slices of at most :data:`SWEEP_SLICE`, earliest due first across partitions, one
        after the other until none is left, with the lock and the event loop let go in
        between: fetch answers are taken (the gate's horizon stays fresh) and CRM batches
        applied while a large due set is worked off. Deadlines due but still behind the gate
        are looked at again every :data:`GATED_POLL_SECONDS` for half a tick, rather than a
        whole tick later."""
        started = time.monotonic()
        while not self._rebalancing and self.ready:
            self._note_fetches()
            async with self._lock:
                if self._rebalancing:
                    return  # revoked while this waited for the lock: its partitions are gone
                now = self.clock()
                slices = self.processor.index.pop_slices(now, self.complete_until, SWEEP_SLICE)
                if slices:
                    await self._fire(slices)
            if not slices:
                waited = time.monotonic() - started
                if waited + GATED_POLL_SECONDS > self.settings.tick_interval_seconds / 2:
                    return  # the timer's next tick; a callback past it is logged as overlapping
                if not self.processor.index.any_due(now):
                    return
                await asyncio.sleep(GATED_POLL_SECONDS)
            else:
                await asyncio.sleep(0)  # fetches and batches between slices

    async def _fire(self, slices: list[Slice]) -> None:
        """One slice, each partition's deadlines assessed as of its own horizon (``until``).

        Exactly-once: one transaction per partition, on its own producer (the fence); the
        partitions' transactions run side by side, each started as soon as its partition is
        fired, and all are committed before the lock is let go (a revocation waits for them).
        """
        if self.transactions is not None:
            pending: list[asyncio.Future[None]] = []
            for part in slices:
                outbox = self.processor.fire(part.due, part.until)
                parcels = self._violations(outbox) + self._state_parcels()
                pending.append(asyncio.ensure_future(self._transact(part.partition, parcels, {})))
                await asyncio.sleep(0)  # its records go out while the next partition fires
            await asyncio.wait(pending)
            for done in pending:
                done.result()  # a failure other than those _transact handles: raised here
            return
        violations: list[Parcel] = []
        for part in slices:
            violations += self._violations(self.processor.fire(part.due, part.until))
        if violations:
            await self.delivery.deliver(violations)  # acknowledged before their state is sent
        sent = await self.delivery.send(self._state_parcels())
        # No input offset waits for this state: it settles in the background (a refusal still
        # ends the process; a crash before it lands re-sends the violations, same ids, later).
        settling = asyncio.ensure_future(self.delivery.settle(sent))
        self._sweeps.add(settling)
        settling.add_done_callback(self._sweeps.discard)

    def complete_until(self, partition: int) -> int | None:
        """Until when every CRM record of this partition is known to be processed.

        That is the oldest time a fetch of its CRM topics is known to have been asked at,
        provided each topic is fully processed up to its high watermark. A high watermark is
        only as fresh as that fetch, so "no lag" alone could hide an attempt written just
        before a deadline.
        """
        complete: int | None = None
        for name in self._kinds:
            tp = TopicPartition(name, partition)
            lag = self._lag(tp)
            polled = self._last_fetch_ms(tp)
            if lag is None or lag > 0 or polled is None:
                return None
            complete = polled if complete is None else min(complete, polled)
        if self.availability is not None and complete is not None:
            absences = self.availability.complete_until()
            return None if absences is None else min(complete, absences)
        return complete

    def _last_fetch_ms(self, tp: TopicPartition) -> int | None:
        """A time before which the newest fetch answer of ``tp`` was asked for: the previous
        answer's arrival, as noted by :meth:`_note_fetches` (None until two were seen).

        aiokafka's ``last_poll_timestamp`` is when an answer was *processed*, not when the
        broker built it: an answer that waited in the socket (a long GC pause, SIGSTOP, a
        busy loop) is stamped late, though it may predate an attempt written before the
        deadline. The next fetch of a partition is asked only after the previous answer was
        processed, so that earlier stamp is a safe lower bound of when the broker answered.
        """
        self._note_fetch(tp)
        seen = self._fetches.get(tp)
        return seen[0] if seen is not None else None

    def _note_fetches(self) -> None:
        consumer = self.reader.consumer
        for tp in consumer.assignment() if consumer is not None else ():
            if tp.topic in self._kinds:
                self._note_fetch(tp)

    def _note_fetch(self, tp: TopicPartition) -> None:
        consumer = self.reader.consumer
        if consumer is None:
            return
        try:
            polled = consumer.last_poll_timestamp(tp)
        except Exception:  # not assigned (any more), or no fetch yet
            return
        if polled is None:
            return
        seen = self._fetches.get(tp)
        if seen is None:
            self._fetches[tp] = (None, int(polled))
        elif seen[1] != polled:
            self._fetches[tp] = (seen[1], int(polled))

    def _lag(self, tp: TopicPartition) -> int | None:
        """Highwater minus our position; None while unknown (not assigned, not fetched yet)."""
        consumer = self.reader.consumer
        position = self._position.get(tp)
        if consumer is None or position is None:
            return None
        try:
            highwater: int | None = consumer.highwater(tp)
        except Exception:
            return None
        if highwater is None or highwater < 0:
            return None
        return max(0, highwater - position)

    # -- ownership -------------------------------------------------------------

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Pause newly owned partitions and read their changelogs in the background; each is
        resumed once its state is in memory (the reader never hands over its events before)."""
        owned = {tp.partition for tp in assigned if tp.topic in self._kinds}
        gained = owned - set(self._recovered)
        for partition in gained:
            self._recovered[partition] = asyncio.Event()
        consumer = self.reader.consumer
        if consumer is not None:
            consumer.pause(*[tp for tp in assigned if tp.partition in gained])
        self._joined = True
        self._rebalancing = False
        if gained:
            previous = self._recovery
            waiting = {partition: self._recovered[partition] for partition in gained}
            self._recovery = asyncio.ensure_future(self._recover(waiting, previous))

    async def _recover(
        self, waiting: dict[int, asyncio.Event], previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        partitions = set(waiting)
        started = asyncio.get_running_loop().time()
        options = aiokafka_options(self.settings)
        isolation = "read_uncommitted"
        try:
            if self.transactions is not None:
                # The fence first: a stale owner's open transaction is aborted before we read.
                await self.transactions.gain(partitions)
                isolation = "read_committed"
            leads, tallies = await asyncio.gather(
                read_changelog(options, self.catalog.lead_state, partitions, isolation),
                read_changelog(options, self.catalog.mql_tally, partitions, isolation),
            )
        except Exception as exc:  # no state, no processing: stop loudly rather than wait forever
            log.exception("could not read the state changelogs %s", sorted(partitions))
            await self.app.crash(exc)
            return
        consumer = self.reader.consumer
        assert consumer is not None
        for partition in sorted(partitions):
            if self._recovered.get(partition) is not waiting[partition]:
                continue  # revoked while we read (and perhaps gained again: a later read)
            tps = [TopicPartition(name, partition) for name in self._kinds]
            try:
                for tp in tps:
                    self._position[tp] = await consumer.position(tp)
            except Exception:  # revoked meanwhile (IllegalStateError): the next owner reads it
                if self._recovered.get(partition) is waiting[partition]:
                    raise
                continue
            if self._recovered.get(partition) is not waiting[partition]:
                continue
            self.processor.restore(partition, leads[partition], tallies[partition])
            waiting[partition].set()
            consumer.resume(*[tp for tp in tps if tp in consumer.assignment()])
            # A partition's restore is synchronous (~0.5 s per 166,000 leads): the heartbeat's
            # round trip and the timers run between them (a bare yield was not enough: 1M
            # leads still blocked the loop 3-5 s), or a large recovery outlasts the session
            # and the group drops this member as soon as it is ready.
            await asyncio.sleep(0.01)
        recovered = sum(len(leads[p]) for p in partitions)
        del leads, tallies
        freeze_restored()
        self.reader.heap.now()  # the changelogs' fetched batches are garbage now
        if self.transactions is not None:  # revoked while we read: not ours to fence with
            await self.transactions.drop(
                p for p in partitions if self._recovered.get(p) is not waiting[p]
            )
        log.info(
            "recovered partitions %s: %d leads, %d pending deadlines, in %.1fs",
            sorted(partitions),
            recovered,
            len(self.processor.index),
            asyncio.get_running_loop().time() - started,
            extra={"partitions": sorted(partitions)},
        )

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish what is in flight, commit it, and drop the partitions: under the eager
        protocol another member may own them next, so our state of them is stale after this.
        No deadline fires until the following assignment.

        With exactly-once outputs a transaction is open only while the lock is held (a batch's
        or a sweep's, per partition), so taking the lock waits for it to commit, or to abort
        and end the process: nothing of a revoked partition commits after this returns, and a
        batch read before the revocation is not applied after it (``_still_owned``)."""
        self._rebalancing = True
        asked = time.monotonic()
        async with self._lock:
            waited = time.monotonic() - asked
            if self._settling is not None:
                await asyncio.wait([self._settling])
            if self._sweeps:
                await asyncio.wait(list(self._sweeps))  # their state rows, before a new owner reads
        if revoked:
            log.info(
                "partitions revoked %s after %.3fs for the batch in flight, %.3fs to settle",
                sorted({tp.partition for tp in revoked}),
                waited,
                time.monotonic() - asked - waited,
            )
        gone = {tp.partition for tp in revoked if tp.topic in self._kinds}
        restored = set()
        for partition in gone:
            done = self._recovered.pop(partition, None)
            if done is not None and done.is_set():
                restored.add(partition)
        for tp in revoked:
            self._position.pop(tp, None)
            self._fetches.pop(tp, None)
        if restored:
            self.processor.drop_partitions(restored)
        if self.transactions is not None:
            await self.transactions.drop(gone)

    # -- web ---------------------------------------------------------------------

    def consumer_lag(self) -> dict[str, int]:
        """Records the broker holds that this worker has not processed, per CRM topic."""
        lag: dict[str, int] = {}
        consumer = self.reader.consumer
        for tp in consumer.assignment() if consumer is not None else ():
            if tp.topic in self._kinds:
                behind = self._lag(tp)
                if behind is not None:
                    lag[tp.topic] = lag.get(tp.topic, 0) + behind
        return lag

    def status_html(self) -> str:
        goals = [g for g in self.tally.collect() if g.name == "stream_sla_mql_goal_to_date"]
        overall = [s.value for g in goals for s in g.samples if s.labels["source"] == "all"]
        return status.render(
            self.ready,
            self.metrics.open_leads.team_totals(),
            self.tally.month_to_date(),
            overall[0] if overall else None,
            self.processor.recent.items(),
        )

    def _pages(self) -> None:
        worker = self
        auth = WebAuth(
            self.settings.web_auth_token,
            self.settings.web_auth_user,
            self.settings.web_auth_password,
        )

        def refused(web: Any, request: Any) -> Any | None:
            if auth.allows(request.headers.get("Authorization")):
                return None
            return web.json({"error": "unauthorized"}, status=401, headers=auth.challenge())

        @self.app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            if (answer := refused(web, request)) is not None:
                return answer
            body = generate_latest(worker.metrics.registry)
            return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

        @self.app.page("/ready")
        async def ready(web: Any, request: Any) -> Any:
            status = 200 if worker.ready else 503
            return web.json({"ready": worker.ready}, status=status)

        @self.app.page("/")
        async def status(web: Any, request: Any) -> Any:
            if (answer := refused(web, request)) is not None:
                return answer
            return web.html(worker.status_html())

        @self.app.page("/live")
        async def live(web: Any, request: Any) -> Any:
            return web.json({"live": True})


class _LagCollector(Collector):
    def __init__(self, worker: SlaWorker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        name, _, labels, meaning = CONSUMER_LAG
        family = GaugeMetricFamily(name, meaning, labels=list(labels))
        if self.worker.ready:
            for topic, lag in sorted(self.worker.consumer_lag().items()):
                family.add_metric([topic], lag)
        yield family
