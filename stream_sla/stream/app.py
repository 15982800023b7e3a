"""The Faust wiring: CRM topics -> agents -> lead table -> breach topics, plus deadline timers.

Design (see shared ENGINEERING-NOTES, "A deadline design that survives restarts"):
- One agent per CRM topic and one for deadline ticks, all co-partitioned by lead
  id, all writing one changelogged table of lead state (``concurrency=1``: Faust
  #606 commits past unprocessed messages with more).
- An in-memory :class:`DeadlineIndex` per worker, rebuilt from the table after
  every recovery, dropped per partition on revocation.
- A timer on every worker pops due deadlines of its own partitions, but only of
  partitions whose CRM input is caught up (an attempt that met the deadline may
  still be unread), and sends a tick keyed by lead id; the owning agent re-checks
  and emits inside stream iteration, so table writes stay legal and ordered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import faust
import orjson
from aiokafka.partitioner import murmur2
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream_sla.config import Settings
from stream_sla.kafka_security import faust_credentials
from stream_sla.metrics import CONSUMER_LAG, Metrics
from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.events import EventKind, EventRejected
from stream_sla.stream import status
from stream_sla.stream.processor import (
    TICK,
    LeadProcessor,
    Publisher,
    Record,
    Retention,
    encode_tick,
    wall_clock_ms,
)
from stream_sla.stream.tally import MqlTally
from stream_sla.topics import TopicCatalog

log = logging.getLogger(__name__)


def raw_topic(app: faust.App, name: str, partitions: int | None = None) -> faust.TopicT:
    """Bytes in, bytes out: we decode once with orjson and never re-serialise what we pass on."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


class FaustPublisher:
    def __init__(self, app: faust.App, catalog: TopicCatalog) -> None:
        self._breaches = raw_topic(app, catalog.breaches)
        self._warnings = raw_topic(app, catalog.warnings)
        self._dead_letter = raw_topic(app, catalog.dead_letter)

    async def violation(self, violation: SlaViolation) -> None:
        topic = self._breaches if violation.severity is Severity.BREACH else self._warnings
        # Sent before the state that records it (same producer, so the breach's batch leaves no
        # later than the changelog's), and Faust flushes the producer before it commits offsets.
        await topic.send(key=violation.lead_id.encode(), value=orjson.dumps(violation.to_record()))

    async def dead_letter(self, record: Record, rejected: EventRejected) -> None:
        headers = [
            ("stream-sla.reason", rejected.reason.value.encode()),
            ("stream-sla.detail", rejected.detail.encode()),
            ("stream-sla.topic", record.topic.encode()),
            ("stream-sla.partition", str(record.partition).encode()),
            ("stream-sla.offset", str(record.offset).encode()),
        ]
        await self._dead_letter.send(key=record.key, value=record.value, headers=headers)


class SlaWorker:
    """Builds the Faust app for one set of settings; ``app`` is what Faust runs."""

    def __init__(
        self,
        settings: Settings,
        catalog: TopicCatalog | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        publisher: Publisher | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog or TopicCatalog.load(settings.topics_dir, settings.topic_prefix)
        self.metrics = metrics or Metrics(
            rep_limit=settings.rep_label_limit,
            team_limit=settings.team_label_limit,
            source_limit=settings.source_label_limit,
        )
        self.clock = clock
        self.partitions = self.catalog.lead_partitions()
        self.ready = False
        self._processed: dict[TP, int] = {}
        self.app = faust.App(
            settings.app_id,
            broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
            broker_credentials=faust_credentials(settings),
            store=settings.store,
            datadir=str(settings.data_dir),
            autodiscover=False,
            web_enabled=True,
            web_bind=settings.web_host,
            web_port=settings.web_port,
            web_in_thread=False,
            web_tables_enabled=False,  # would serve lead state over HTTP
            web_router_enabled=False,
            topic_partitions=self.partitions,
            topic_replication_factor=settings.topic_replication_factor,
            topic_disable_leader=True,
            table_standby_replicas=0,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            # Batch outgoing records (changelog, breaches, ticks) for a few ms: without it every
            # record is its own produce request and socket writes dominate the profile.
            producer_linger_ms=settings.producer_linger_ms,
            broker_commit_interval=1.0,
            broker_session_timeout=settings.session_timeout_seconds,
            broker_heartbeat_interval=max(1.0, settings.session_timeout_seconds / 10),
        )
        self.table = self.app.Table(
            "leads",
            default=None,
            partitions=self.partitions,
            help="Per-lead SLA state (facts seen, what was emitted).",
            key_type=bytes,  # bytes types make Faust use the "raw" codec: we encode ourselves
            value_type=bytes,
        )
        self.tally_table = self.app.Table(
            "mql-tally",
            default=None,
            partitions=self.partitions,
            help="MQLs per month, source and partition (marketing's month to date).",
            key_type=bytes,
            value_type=bytes,
        )
        policy = settings.policy()
        self.tally = MqlTally(self.tally_table, policy.marketing, clock)
        self.metrics.registry.register(self.tally)
        self.metrics.registry.register(_LagCollector(self))
        self.processor = LeadProcessor(
            self.table,
            policy,
            publisher or FaustPublisher(self.app, self.catalog),
            self.metrics,
            clock=clock,
            retention=Retention(settings.closed_lead_retention, settings.idle_lead_retention),
            tally=self.tally,
        )
        self._crm_topics = {
            kind: self.catalog.name(spec.name) for kind, spec in self.catalog.crm().items()
        }
        self.ticks = raw_topic(self.app, self.catalog.ticks, self.partitions)
        self.agents: dict[str, Any] = {}
        for kind, name in self._crm_topics.items():
            topic = raw_topic(self.app, name, self.partitions)
            self.agents[kind.value] = self._agent(kind, topic)
        self.agents[TICK] = self._agent(TICK, self.ticks)
        self.app.timer(settings.tick_interval_seconds, name="deadline-timer")(self.fire_due)
        self.table.on_recover(self._on_recovered)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]
        self._pages()

    def _agent(self, kind: EventKind | str, topic: faust.TopicT) -> Any:
        processor = self.processor
        processed = self._processed

        async def process(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                message = event.message
                record = Record(
                    message.topic, message.partition, message.offset, message.key, message.value
                )
                await processor.handle(kind, record)
                processed[message.tp] = message.offset

        return self.app.agent(topic, name=f"stream_sla.{kind}", concurrency=1)(process)

    # -- deadlines -------------------------------------------------------------

    async def fire_due(self) -> None:
        """Send a tick for every due deadline of a partition whose input is complete up to it."""
        if not self.ready:
            return
        for due in self.processor.index.pop_due(self.clock(), horizon=self.complete_until):
            await self.ticks.send(
                key=due.lead_id.encode(),
                value=encode_tick(due.lead_id, due.at),
                partition=due.partition,
            )

    def complete_until(self, partition: int) -> int | None:
        """Until when every CRM record of this partition is known to be processed.

        That is the time of the oldest last fetch among its CRM topics, provided each of them
        is fully processed up to its high watermark. A high watermark is only as fresh as the
        last fetch, so "no lag" alone could hide an attempt written just before a deadline.
        """
        complete: int | None = None
        for name in self._crm_topics.values():
            tp = TP(name, partition)
            lag = self._lag(tp)
            polled = self._last_fetch_ms(tp)
            if lag is None or lag > 0 or polled is None:
                return None
            complete = polled if complete is None else min(complete, polled)
        return complete

    def _last_fetch_ms(self, tp: TP) -> int | None:
        try:
            consumer = self.app.consumer._thread._ensure_consumer()  # type: ignore[attr-defined]
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
        committed = consumer._committed_offset.get(tp) or 0  # type: ignore[attr-defined]
        position = max(self._processed.get(tp, -1) + 1, committed)
        return max(0, highwater - position)

    async def _on_recovered(self) -> None:
        active = {
            tp.partition
            for tp in self.app.assignor.assigned_actives()
            if tp.topic in self._crm_topics.values()
        }
        items = [
            (key, value, partition_of(key, self.partitions))
            for key, value in self.table.data.items()
            if value is not None
        ]
        self.processor.rebuild([item for item in items if item[2] in active])
        self.tally.rebuild(self.tally_table.data.items(), active)
        self.ready = True
        log.info(
            "state recovered: %d leads, %d pending deadlines", len(items), len(self.processor.index)
        )

    async def _on_revoked(self, app: Any, revoked: set[TP], **_: Any) -> None:
        self.processor.drop_partitions(
            {tp.partition for tp in revoked if tp.topic in self._crm_topics.values()}
        )

    # -- web ---------------------------------------------------------------------

    def consumer_lag(self) -> dict[str, int]:
        """Records the broker holds that this worker has not processed, per CRM topic."""
        lag: dict[str, int] = {}
        for tp in self.app.assignor.assigned_actives():
            if tp.topic in self._crm_topics.values():
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

        @self.app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            body = generate_latest(worker.metrics.registry)
            return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

        @self.app.page("/ready")
        async def ready(web: Any, request: Any) -> Any:
            status = 200 if worker.ready else 503
            return web.json({"ready": worker.ready}, status=status)

        @self.app.page("/")
        async def status(web: Any, request: Any) -> Any:
            return web.html(worker.status_html())

        @self.app.page("/live")
        async def live(web: Any, request: Any) -> Any:
            return web.json({"live": True})


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), which the CRM producer must use for lead ids."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


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
