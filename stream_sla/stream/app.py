"""The Faust wiring: CRM topics -> a batching agent -> lead state -> breach topics; deadlines.

Design (see shared ENGINEERING-NOTES, "A deadline design that survives restarts", and the
profile in the README's Benchmarks section):
- One agent over all four CRM topics (co-partitioned by lead id) takes events in batches
  (``take_events``) and hands each batch to :class:`LeadProcessor` (``concurrency=1``: Faust
  #606 commits past unprocessed messages with more).
- Lead state lives in memory per partition (the engine's :class:`PartitionState`) and in a compacted
  changelog topic written once per batch; a partition gained in a rebalance is read from
  its changelog before its events are processed, and dropped when revoked.
- An in-memory :class:`DeadlineIndex`, rebuilt from the wake-up stored with each state.
- A timer on every worker pops due deadlines of its own partitions, but only of partitions
  whose CRM input is caught up (an attempt that met the deadline may still be unread), and
  evaluates them in place. A lock keeps a batch and a sweep from interleaving, so state
  changes stay ordered.
- Every record produced is acknowledged by the broker before the batch's events are
  acknowledged to Faust (so before their offsets can be committed), violations and dead
  letters before the state that records them; a refusal stops progress, and past the retry
  budget ends the process with nothing of the batch committed (:mod:`delivery`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import faust
import orjson
from aiokafka import AIOKafkaProducer
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream_sla.config import Settings
from stream_sla.kafka_security import aiokafka_options, faust_credentials
from stream_sla.metrics import CONSUMER_LAG, CrmLabels, Metrics
from stream_sla.objectives import PolicyTargets
from stream_sla.sla.effects import Severity
from stream_sla.stream import status
from stream_sla.stream.dead_letters import BROKER_DEFAULT_MAX_MESSAGE_BYTES, dead_letter_parcel
from stream_sla.stream.delivery import EXIT_PRODUCE_REFUSED, Delivery, Parcel, Sent
from stream_sla.stream.faust_internals import aiokafka_consumer, aiokafka_producer, committed_offset
from stream_sla.stream.processor import (
    LeadProcessor,
    Outbox,
    Record,
    Retention,
    wall_clock_ms,
)
from stream_sla.stream.store import changelog_parcels, read_changelog
from stream_sla.stream.web_auth import WebAuth
from stream_sla.tally import MqlTally
from stream_sla.topics import TopicCatalog

log = logging.getLogger(__name__)


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
        self._processed: dict[TP, int] = {}
        self._joined = False
        self._recovered: dict[int, asyncio.Event] = {}
        """The lead partitions this worker owns, each set once its state is in memory."""
        self._recovery: asyncio.Task[None] | None = None
        self._settling: asyncio.Future[None] | None = None
        self._sweeps: set[asyncio.Future[None]] = set()
        """The previous batch's delivery, awaited before the next batch returns."""
        self._lock = asyncio.Lock()
        self._rebalancing = False
        self.app = faust.App(
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
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            # Changelog batches and violations leave in few produce requests, not one each.
            producer_linger_ms=settings.producer_linger_ms,
            producer_max_batch_size=1024 * 1024,
            producer_max_request_size=4 * 1024 * 1024,
            stream_buffer_maxsize=4 * settings.batch_max_events,
            broker_max_poll_records=settings.batch_max_events,
            consumer_max_fetch_size=4 * 1024 * 1024,
            broker_commit_interval=1.0,
            broker_session_timeout=settings.session_timeout_seconds,
            # Static membership (see README, Operations: readiness after a crash).
            consumer_group_instance_id=settings.group_instance_id or None,
            broker_heartbeat_interval=max(1.0, settings.session_timeout_seconds / 10),
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
        crm = raw_topic(self.app, *self._kinds, partitions=self.partitions)
        self.agent = self.app.agent(crm, name="stream_sla.crm", concurrency=1)(self._process)
        self.app.timer(settings.tick_interval_seconds, name="deadline-timer")(self.fire_due)
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self._pages()

    @property
    def ready(self) -> bool:
        """Joined the group and every owned partition's state is in memory."""
        return self._joined and all(e.is_set() for e in self._recovered.values())

    def _producer(self) -> AIOKafkaProducer:
        return aiokafka_producer(self.app)

    # -- events ----------------------------------------------------------------

    async def _process(self, stream: faust.StreamT[bytes]) -> None:
        settings = self.settings
        kinds = self._kinds
        batches = stream.take_events(  # type: ignore[attr-defined]
            settings.batch_max_events, within=settings.batch_within_seconds
        )
        async for events in batches:
            records = [
                (
                    kinds[m.topic],
                    Record(m.topic, m.partition, m.offset, m.key, m.value),
                )
                for m in (event.message for event in events)
            ]
            owned = {
                partition
                for partition in {record.partition for _, record in records}
                if await self._wait_recovered(partition)
            }
            # Events of a partition revoked meanwhile are left to its new owner (Faust does not
            # commit offsets of revoked partitions, so it will read them again).
            records = [(kind, record) for kind, record in records if record.partition in owned]
            async with self._lock:
                outbox = self.processor.apply(records)
                await self._send(outbox)  # retractions (late data), acknowledged
                sent = await self.delivery.send(self._dead_letters(outbox) + self._state_parcels())
            # Faust acknowledges the events when this body returns (take_events); an extra
            # reference keeps them unacknowledged, so uncommitted, until the broker has every
            # record of the batch. Meanwhile the next batch is applied; at most one batch waits.
            for event in events:
                event.message.incref()
            settling = asyncio.ensure_future(self._settle(sent, events, stream))
            previous, self._settling = self._settling, settling
            if previous is not None:
                await previous
            for event in events:
                self._processed[event.message.tp] = event.message.offset

    async def _settle(self, sent: Sent, events: list[Any], stream: faust.StreamT[bytes]) -> None:
        await self.delivery.settle(sent)  # or the process ends: nothing of the batch is acked
        for event in events:
            await stream.ack(event)

    async def _wait_recovered(self, partition: int) -> bool:
        """Wait until this partition's state is in memory; False if it is not ours (any more)."""
        waited = 0.0
        while partition not in self._recovered:  # the assignment signal has not run yet
            if waited > self.settings.session_timeout_seconds:
                return False
            await asyncio.sleep(0.05)
            waited += 0.05
        recovered = self._recovered[partition]
        await recovered.wait()
        return self._recovered.get(partition) is recovered

    async def _send(self, outbox: Outbox) -> None:
        """Violations and retractions, acknowledged by the broker before this returns (before
        the state that records them may be written)."""
        parcels = [
            Parcel.one(
                self._breaches if v.severity is Severity.BREACH else self._warnings,
                v.lead_id.encode(),
                orjson.dumps(v.to_record()),
            )
            for v in outbox.violations
        ] + [
            Parcel.one(self._breaches, r.lead_id.encode(), orjson.dumps(r.to_record()))
            for r in outbox.retractions
        ]
        if parcels:
            await self.delivery.deliver(parcels)

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
        """Evaluate every due deadline of a partition whose input is complete up to it."""
        if self._rebalancing or not self.ready:
            return
        async with self._lock:
            now = self.clock()
            due = self.processor.index.pop_due(now, horizon=self.complete_until)
            if not due:
                return
            outbox = self.processor.fire(due, now)
            await self._send(outbox)  # the violations, acknowledged before their state is sent
            sent = await self.delivery.send(self._state_parcels())
        # No input offset waits for this state: it settles in the background (a refusal still
        # ends the process; a crash before it lands re-sends the violations, same ids, later).
        settling = asyncio.ensure_future(self.delivery.settle(sent))
        self._sweeps.add(settling)
        settling.add_done_callback(self._sweeps.discard)

    def complete_until(self, partition: int) -> int | None:
        """Until when every CRM record of this partition is known to be processed.

        That is the time of the oldest last fetch among its CRM topics, provided each of them
        is fully processed up to its high watermark. A high watermark is only as fresh as the
        last fetch, so "no lag" alone could hide an attempt written just before a deadline.
        """
        complete: int | None = None
        for name in self._kinds:
            tp = TP(name, partition)
            lag = self._lag(tp)
            polled = self._last_fetch_ms(tp)
            if lag is None or lag > 0 or polled is None:
                return None
            complete = polled if complete is None else min(complete, polled)
        return complete

    def _last_fetch_ms(self, tp: TP) -> int | None:
        try:
            consumer = aiokafka_consumer(self.app)
            polled = consumer.last_poll_timestamp(tp)
        except Exception:  # not assigned (any more), or no fetch yet
            return None
        return int(polled) if polled is not None else None

    def _lag(self, tp: TP) -> int | None:
        """Highwater minus our position; None while unknown (not assigned, not fetched yet)."""
        consumer = self.app.consumer
        try:
            highwater = consumer.highwater(tp)
        except Exception:
            return None
        if highwater is None or highwater < 0:
            return None
        committed = committed_offset(self.app, tp) or 0
        position = max(self._processed.get(tp, -1) + 1, committed)
        return max(0, highwater - position)

    # -- ownership -------------------------------------------------------------

    async def _on_assigned(self, app: Any, assigned: set[TP], **_: Any) -> None:
        """Read the changelog of newly owned partitions in the background; the agent waits
        for a partition's state before it touches that partition's events."""
        owned = {tp.partition for tp in assigned if tp.topic in self._kinds}
        gone = set(self._recovered) - owned
        for partition in gone:
            self._recovered.pop(partition).set()  # a waiting agent skips what is not ours
        if gone:
            self.processor.drop_partitions(gone)
        gained = owned - set(self._recovered)
        for partition in gained:
            self._recovered[partition] = asyncio.Event()
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
        try:
            leads, tallies = await asyncio.gather(
                read_changelog(options, self.catalog.lead_state, partitions),
                read_changelog(options, self.catalog.mql_tally, partitions),
            )
        except Exception as exc:  # no state, no processing: stop loudly rather than wait forever
            log.exception("could not read the state changelogs %s", sorted(partitions))
            await self.app.crash(exc)
            return
        for partition in sorted(partitions):
            if self._recovered.get(partition) is not waiting[partition]:
                continue  # revoked while we read (and perhaps gained again: a later read)
            self.processor.restore(partition, leads[partition], tallies[partition])
            waiting[partition].set()
        log.info(
            "recovered partitions %s: %d leads, %d pending deadlines, in %.1fs",
            sorted(partitions),
            sum(len(leads[p]) for p in partitions),
            len(self.processor.index),
            asyncio.get_running_loop().time() - started,
            extra={"partitions": sorted(partitions)},
        )

    async def _on_revoked(self, app: Any, revoked: set[TP], **_: Any) -> None:
        """Keep the state: the eager protocol revokes everything on every rebalance, and no one
        else can own a partition until the assignment that follows; that one drops what we lost.
        Until then no deadline fires."""
        self._rebalancing = True

    # -- web ---------------------------------------------------------------------

    def consumer_lag(self) -> dict[str, int]:
        """Records the broker holds that this worker has not processed, per CRM topic."""
        lag: dict[str, int] = {}
        for tp in self.app.consumer.assignment():
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
