"""The notifier's Faust app: sla.warnings + sla.breaches (+ sla.lead-state) in, people told.

One reader (:class:`~stream_sla.stream.reader.CrmReader`, aiokafka's consumer group with the
range assignor) reads the three lead-keyed topics together, so their partitions go to the
same instance: the reminders an instance holds and the lead states that may make them moot
always live on the same instance. It reads with ``isolation_level=read_committed``: with the
worker's exactly-once outputs, a breach of an aborted transaction never reaches anyone.
Why not a Faust agent: Faust reads read_committed only when its own processing guarantee is
exactly-once (``AIOKafkaConsumerThread._create_worker_consumer`` in faust-streaming 0.15
derives the isolation level from ``processing_guarantee``; no setting of its own), and that
mode would make the notifier's producer transactional too (faust-streaming #323, #517, #177).

Per record, at least once (offsets of handled records are committed every second and after
each batch, and before a revoked partition leaves):
1. a notice is routed (``routing.route``) and paced (``pacing.Pacer``); what is held is
   written to the journal (fsync) before the record is acknowledged;
2. what goes now is sent on one task per message (``dispatch.Dispatcher``), each with its
   own retries; the agent moves on when all are delivered, refused or dead-lettered;
3. a breach is counted for strikes; a strike is published to ``sla.strikes`` (acknowledged
   by the broker) and the rep's manager is told.
A lead state is only decoded for a lead with held reminders (``settled.moot``). A timer
releases held reminders when their time comes. A crash anywhere resends, under the same
idempotency keys, what was not acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from html import escape
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from stream_sla.config import Settings
from stream_sla.kafka_security import aiokafka_options, faust_credentials
from stream_sla.notify.channels import build_channels
from stream_sla.notify.config import NotifyConfig
from stream_sla.notify.delivery import Attempted, Outcome
from stream_sla.notify.dispatch import Dispatcher
from stream_sla.notify.journal import HeldJournal
from stream_sla.notify.message import render_strike
from stream_sla.notify.metrics import NotifierMetrics
from stream_sla.notify.model import Delivery, Message, Notice
from stream_sla.notify.pacing import Pacer
from stream_sla.notify.routing import Directory, manager_of, person_recipient, route
from stream_sla.notify.settled import moot, stale
from stream_sla.notify.strikes import Strike, StrikeCounter
from stream_sla.ops_web import add_ops_pages
from stream_sla.sla.events import EventRejected
from stream_sla.sla.snapshot import load_state
from stream_sla.stream.app import ReaderApp
from stream_sla.stream.dead_letters import dead_letter_headers
from stream_sla.stream.processor import Record
from stream_sla.stream.reader import Batch, CrmReader
from stream_sla.topics import TopicCatalog

log = logging.getLogger(__name__)

STRIKES_TOPIC = "sla.strikes"
READ_COMMITTED = "read_committed"
COMMIT_EVERY_MS = 1_000
"""Within a batch, offsets of handled records are committed at least this often."""
RECENT = 100
RECENT_STATES = 20_000
"""Lead states kept after they are read (about 0.5 KB each): a warning read after the state
that settles it (another topic, so any order) is still recognised as moot."""


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Notifier:
    def __init__(
        self,
        settings: Settings,
        config: NotifyConfig,
        people: Directory,
        web_port: int,
        catalog: TopicCatalog | None = None,
        metrics: NotifierMetrics | None = None,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.settings = settings
        self.config = config
        self.people = people
        self.catalog = catalog or TopicCatalog.load(settings.topics_dir, settings.topic_prefix)
        self.metrics = metrics or NotifierMetrics()
        self.clock = clock
        self.policy = settings.policy()
        self.group = f"{settings.app_id}-notifier"
        self.app = ReaderApp(
            self.group,
            broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
            broker_credentials=faust_credentials(settings),
            store="memory://",
            datadir=str(settings.data_dir / "notifier"),
            autodiscover=False,
            web_enabled=True,
            web_bind=settings.web_host,
            web_port=web_port,
            web_in_thread=False,
            web_tables_enabled=False,
            web_router_enabled=False,
            topic_disable_leader=True,
            table_standby_replicas=0,
        )
        self._warnings = self.catalog.warnings
        self._breaches = self.catalog.breaches
        self._lead_state = self.catalog.lead_state
        self._strikes = self.catalog.name(STRIKES_TOPIC)
        self._dead_letter = self.catalog.dead_letter
        self.reader = CrmReader(
            settings,
            [self._warnings, self._breaches, self._lead_state, self.catalog.name("sla.reroutes")],
            self._process,
            self._on_assigned,
            self._on_revoked,
            group_id=self.group,
            isolation_level=READ_COMMITTED,
        )
        self.app.add_dependency(self.reader)
        self._handled: dict[TopicPartition, int] = {}
        """Per partition, the next offset to commit: every record before it is handled."""
        self._intake = asyncio.Lock()
        """Held while a batch is handled, so a revocation commits only what was handled."""
        self.app.timer(1.0, name="release-held")(self.release_due)
        self.pacer = Pacer(config, self._team_of)
        self.journal = HeldJournal(settings.data_dir / "notifier" / "held.jsonl")
        self.strikes = StrikeCounter(config.strike_breaches, config.strike_within_ms)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._held_leads: set[str] = set()
        self._states: OrderedDict[str, bytes | None] = OrderedDict()
        self._dispatcher: Dispatcher | None = None
        self._lock = asyncio.Lock()
        self._pages()

    # -- wiring ------------------------------------------------------------------

    def _team_of(self, delivery: Delivery) -> str | None:
        owner = delivery.recipient.crm_owner_id
        person = self.people.get(owner) if owner else None
        return person.team if person is not None else delivery.notice.team

    async def dispatcher(self) -> Dispatcher:
        """Created inside the running loop (aiohttp sessions belong to one); the journal's
        held reminders are offered again at the same time."""
        if self._dispatcher is None:
            session = aiohttp.ClientSession()
            self._dispatcher = Dispatcher(
                self.config,
                build_channels(self.config.channels, session),
                self.metrics,
                self._dead_letter_message,
                self._owner_name,
                clock=self.clock,
            )
            now = self.clock()
            for delivery in self.journal.load():
                for message in self.pacer.offer(delivery, now):
                    await self._send([message])
            self._refresh_held()
        return self._dispatcher

    def _owner_name(self, owner_id: str) -> str | None:
        person = self.people.get(owner_id)
        return person.name if person is not None else None

    def _producer(self) -> AIOKafkaProducer:
        return self.reader.started_producer()

    # -- records -----------------------------------------------------------------

    async def _process(self, batch: Batch) -> None:
        """Handle a batch record by record, in order per partition; then commit its offsets."""
        async with self._intake:
            committed = self.clock()
            for tp, messages in batch.items():
                for message in messages:
                    await self.handle_record(message)
                    self._handled[tp] = message.offset + 1
                    if self.clock() - committed >= COMMIT_EVERY_MS:  # a crash re-sends less
                        await self.reader.commit(self._handled)
                        committed = self.clock()
            await self.reader.commit(self._handled)

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        """Nothing to restore: a gained partition is read from its committed offset."""

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """The batch in hand is finished and committed before the partitions leave."""
        async with self._intake:
            await self.reader.commit(self._handled)
            for tp in revoked:
                self._handled.pop(tp, None)

    async def handle_record(self, message: ConsumerRecord[bytes, bytes]) -> None:
        if message.topic == self._lead_state:
            if message.key is not None:
                await self.lead_changed(message.key.decode(errors="replace"), message.value)
            return
        try:
            record = orjson.loads(message.value or b"")
            if isinstance(record, dict) and "retracts" in record:
                await self.retract(str(record["retracts"]))
                return
            notice = Notice.from_record(record)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, EventRejected) as exc:
            await self._dead_letter_record(message, "invalid_notice", repr(exc))
            return
        await self.handle(notice)

    async def retract(self, breach_id: str) -> None:
        """Late data withdrew a breach (a retraction on sla.breaches, see topics/): what is
        still held for it is dropped, and it counts towards no strike. Sent is sent."""
        async with self._lock:
            self._discard(lambda d: d.notice.id == breach_id)
            self.strikes.forget(breach_id)

    async def handle(self, notice: Notice) -> None:
        await self.dispatcher()
        now = self.clock()
        if stale(notice, now):
            self.metrics.stale.inc()
            return
        async with self._lock:
            if notice.severity == "breach":
                self._discard(
                    lambda d: (
                        d.notice.severity in ("warning", "reroute")
                        and (d.notice.lead_id, d.notice.rule, d.notice.handed_at)
                        == (notice.lead_id, notice.rule, notice.handed_at)
                    )
                )
            routed = route(notice, self.config, self.people)
            for who in routed.unreachable:
                self.metrics.unreachable.labels(who.split(" ")[0]).inc()
            now_messages: list[Message] = []
            held: list[Delivery] = []
            for delivery in routed.deliveries:
                if notice.lead_id in self._states and self._settled(delivery):
                    self._count_discarded(delivery)
                    continue
                out = self.pacer.offer(delivery, now)
                if out:
                    now_messages += out
                else:
                    held.append(delivery)
            self.journal.hold(held)
            self._refresh_held()
        await self._send(now_messages)
        strike = self.strikes.record(notice)
        if strike is not None:
            await self._strike(strike, now)

    async def lead_changed(self, lead_id: str, value: bytes | None) -> None:
        """Remember the newest state (bounded), and drop held reminders it makes moot."""
        self._states[lead_id] = value
        self._states.move_to_end(lead_id)
        if len(self._states) > RECENT_STATES:
            self._states.popitem(last=False)
        if lead_id not in self._held_leads:
            return
        async with self._lock:
            self._discard(lambda d: d.notice.lead_id == lead_id and self._settled(d))

    def _settled(self, delivery: Delivery) -> bool:
        """Moot by the newest lead state read (evicted: closed or idle long enough)."""
        lead_id = delivery.notice.lead_id
        if lead_id not in self._states:
            return False
        value = self._states[lead_id]
        if value is None:
            return True
        try:
            state = load_state(lead_id, value)
        except (ValueError, TypeError, orjson.JSONDecodeError):
            log.warning("lead state of %s in an unknown format: reminders kept", lead_id)
            return False
        return moot(delivery, state, self.policy)

    async def release_due(self) -> None:
        """Timer: held reminders whose working hour or rate window has come, as digests.
        The first tick also brings back what the journal held before a restart."""
        await self.dispatcher()
        async with self._lock:
            now = self.clock()
            self._discard(lambda d: stale(d.notice, now))  # held past its deadline
            messages = self.pacer.due(now)
            self._refresh_held()
        await self._send(messages)
        self.journal.done(d for m in messages for d in m.deliveries)

    def _discard(self, predicate: Callable[[Delivery], bool]) -> None:
        dropped = self.pacer.discard(predicate)
        if dropped:
            self.journal.done(dropped)
            for d in dropped:
                self._count_discarded(d)
        self._refresh_held()

    def _count_discarded(self, d: Delivery) -> None:
        kind = self.config.channels[d.channel].type
        self.metrics.notifications.labels(kind, Outcome.DISCARDED.value).inc()
        self._remember(d.channel, d.recipient.key, f"(dropped) {d.notice.id}",
                       Outcome.DISCARDED.value, [d.notice.lead_id])  # fmt: skip

    def _refresh_held(self) -> None:
        self._held_leads = {d.notice.lead_id for d in self.pacer.held()}
        self.metrics.held.set(self.pacer.held_count())

    async def _send(self, messages: list[Message], rendered: Any = None) -> list[Attempted]:
        if not messages:
            return []
        dispatcher = await self.dispatcher()
        results = await dispatcher.send_all(messages) if rendered is None else [
            await dispatcher.send(m, rendered) for m in messages
        ]  # fmt: skip
        for message, result in zip(messages, results, strict=True):
            self._remember(
                message.channel, message.recipient.key, result.subject, result.outcome.value,
                [d.notice.lead_id for d in message.deliveries],
            )  # fmt: skip
        return results

    def _remember(
        self, channel: str, recipient: str, subject: str, outcome: str, leads: list[str]
    ) -> None:
        self.recent.appendleft(
            {
                "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                "channel": channel,
                "recipient": recipient,
                "subject": subject,
                "outcome": outcome,
                "leads": leads,
            }
        )

    # -- strikes -----------------------------------------------------------------

    async def _strike(self, strike: Strike, now: int) -> None:
        manager = manager_of(strike.rep, self.people)
        record = strike.to_record(now, manager.owner_id if manager else None)
        ack = await self._producer().send(
            self._strikes, key=strike.rep.encode(), value=orjson.dumps(record)
        )
        await ack
        self.metrics.strikes.labels(strike.team or "unknown", strike.rep).inc()
        if manager is None or not self.config.strike_via:
            return
        recipient = person_recipient(manager)
        rep = self.people.get(strike.rep)
        rendered = render_strike(strike, recipient, rep.name if rep else strike.rep)
        deliveries = (
            Delivery("strike", self.config.strike_via[0], recipient, _strike_notice(strike)),
        )
        messages = [
            Message(channel, recipient, deliveries, kind="strike")
            for channel in self.config.strike_via
        ]
        await self._send(messages, rendered)

    async def rebuild_strikes(self) -> int:
        """Before consuming: count the breaches of the window already consumed by this
        group (up to its committed offsets), so a restart neither forgets nor repeats them."""
        options = aiokafka_options(self.settings)
        consumer = AIOKafkaConsumer(
            **options, group_id=self.group, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level=READ_COMMITTED,
        )  # fmt: skip
        await consumer.start()
        counted = 0
        try:
            # From the catalogue: an unsubscribed consumer has no metadata for the topic.
            partitions = range(self.catalog.spec("sla.breaches").partitions)
            tps = [TopicPartition(self._breaches, p) for p in partitions]
            ends: dict[TopicPartition, int] = {}
            for tp in tps:
                committed = await consumer.committed(tp)
                if committed:
                    ends[tp] = committed
            if not ends:
                return 0
            consumer.assign(list(ends))
            since = self.clock() - self.config.strike_within_ms
            starts = await consumer.offsets_for_times({tp: since for tp in ends})
            for tp in ends:
                found = starts.get(tp)
                # None: every consumed breach is older than the window, none to count
                consumer.seek(tp, ends[tp] if found is None else found.offset)
            remaining = {tp for tp in ends if await consumer.position(tp) < ends[tp]}
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, records in batch.items():
                    for r in records:
                        if r.offset >= ends[tp]:
                            continue
                        try:
                            value = orjson.loads(r.value)
                            if isinstance(value, dict) and "retracts" in value:
                                self.strikes.forget(str(value["retracts"]))
                                continue
                            self.strikes.record(Notice.from_record(value))
                            counted += 1
                        except (orjson.JSONDecodeError, KeyError, ValueError, EventRejected):
                            continue
                    if records and records[-1].offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        return counted

    # -- dead letters ------------------------------------------------------------

    async def _dead_letter_message(self, message: Message, result: Attempted) -> None:
        first = message.deliveries[0].notice
        value = orjson.dumps(
            {
                "channel": message.channel,
                "recipient": message.recipient.key,
                "idempotency_key": message.idempotency_key,
                "violation_ids": [d.notice.id for d in message.deliveries],
                "lead_ids": [d.notice.lead_id for d in message.deliveries],
            }
        )
        reason = "notification_rejected" if result.outcome is Outcome.REJECTED else (
            "notification_failed"
        )  # fmt: skip
        ack = await self._producer().send(
            self._dead_letter,
            key=first.lead_id.encode(),
            value=value,
            headers=[
                ("stream-sla.reason", reason.encode()),
                ("stream-sla.detail", result.reason.encode()[:1000]),
                ("stream-sla.channel", message.channel.encode()),
                ("stream-sla.attempts", str(result.attempts).encode()),
            ],
        )
        await ack

    async def _dead_letter_record(
        self, message: ConsumerRecord[bytes, bytes], reason: str, detail: str
    ) -> None:
        """The worker's dead-letter shape: original key and bytes, where from in headers."""
        record = Record(message.topic, message.partition, message.offset, message.key,
                        message.value)  # fmt: skip
        ack = await self._producer().send(
            self._dead_letter,
            key=message.key,
            value=message.value,
            headers=dead_letter_headers(record, reason, detail[:1000]),
        )
        await ack

    # -- web ---------------------------------------------------------------------

    def _pages(self) -> None:
        notifier = self

        async def recent_html(web: Any, request: Any) -> Any:
            rows = "".join(
                "<tr>" + "".join(f"<td>{escape(str(r[k]))}</td>" for k in
                                 ("at", "outcome", "channel", "recipient", "subject")) + "</tr>"
                for r in notifier.recent
            )  # fmt: skip
            return web.html(
                "<!doctype html><title>stream-sla notifier</title><meta http-equiv=refresh"
                f" content=5><h1>Last notifications</h1><p>{notifier.pacer.held_count()} held"
                " for working hours or a digest</p><table border=1><tr><th>at (UTC)<th>outcome"
                f"<th>channel<th>recipient<th>subject</tr>{rows}</table>"
            )

        async def recent_json(web: Any, request: Any) -> Any:
            return web.json({"held": notifier.pacer.held_count(), "recent": list(notifier.recent)})

        # The pages name recipients: the worker's optional credential guards them too.
        add_ops_pages(
            self.app,
            self.settings,
            self.metrics.registry,
            pages={"/": recent_html, "/notifications.json": recent_json},
        )


def _strike_notice(strike: Strike) -> Notice:
    """The strike as a notice-shaped item, so messages, keys and dead letters share one shape."""
    return Notice(
        id=f"strike-{strike.id}",
        severity="strike",
        rule="strike",
        lead_id=strike.lead_ids[-1],
        handed_at=strike.first_deadline_at,
        deadline_at=strike.last_deadline_at,
        detected_at=strike.last_deadline_at,
        target_seconds=0,
        owner=strike.rep,
        team=strike.team,
        segment=None,
        source=None,
        policy_segment="",
    )
