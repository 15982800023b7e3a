"""``stream-sla gateway``: the Faust app that takes CRM webhooks in and translates them.

Two halves, one process (scale it like the worker; the agents share a consumer group):

- Web views ``POST /hooks/hubspot`` and ``POST /hooks/pipedrive``. A request is verified
  (HubSpot v3 signature, Pipedrive basic auth: 401 otherwise), its body bounded (413),
  and written unchanged to ``crm.raw.<vendor>`` with headers ``stream-sla.received-at``
  and ``stream-sla.request-id``. The answer is 200 only once the broker has acknowledged
  the write (acks=all); if Kafka does not answer within ``ack_timeout_seconds`` the
  answer is 503 and the CRM retries (both retry non-2xx). Nothing is acknowledged that
  was not stored; a write that lands after a 503 is deduplicated downstream by event id.
- Translator agents, one per source (``crm.raw.hubspot``, ``crm.raw.pipedrive`` and the
  Salesforce CDC connector's topic), ``concurrency=1`` (Faust #606). Each raw record goes
  through the pure translator of :mod:`.sources`; canonical events go to the crm.* topics
  keyed by lead id, the rest to ``sla.dead-letter`` with a reason. The agent takes records
  in small batches and waits for the broker's acknowledgement of all their outputs before
  taking the next batch (which is when Faust acknowledges the previous one), so the offset
  Faust commits never runs ahead of what was published.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import faust
import faust.web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter

from stream_sla.config import Settings
from stream_sla.gateway.auth import basic_auth_ok, hubspot_problem
from stream_sla.gateway.canonical import Translation
from stream_sla.gateway.mappings import Mappings, load_mappings
from stream_sla.gateway.settings import GatewaySettings
from stream_sla.gateway.sources import TRANSLATORS
from stream_sla.kafka_security import faust_credentials
from stream_sla.ops_web import add_ops_pages
from stream_sla.people import PeopleDirectory, load_people
from stream_sla.sla.events import EventRejected, RejectReason
from stream_sla.stream.app import raw_topic
from stream_sla.topics import TopicCatalog

log = logging.getLogger(__name__)

RAW = {"hubspot": "crm.raw.hubspot", "pipedrive": "crm.raw.pipedrive"}
SALESFORCE = "crm.raw.salesforce"
TRANSLATE_BATCH = 200
TRANSLATE_WITHIN_SECONDS = 0.02
"""Raw records a translator takes at once; their outputs' acks are awaited together."""


async def read_bounded(content: Any, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes (a read returns what has
    arrived so far, so one read of a large body may be partial)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "stream_sla_gateway_requests_total",
            "Webhook requests by source and HTTP status answered.",
            ["source", "status"],
            registry=r,
        )
        self.translated = Counter(
            "stream_sla_gateway_events_total",
            "Canonical events published by the translators, by source.",
            ["source"],
            registry=r,
        )
        self.dead_letters = Counter(
            "stream_sla_gateway_dead_letters_total",
            "Vendor events the translators could not use, by source and reason.",
            ["source", "reason"],
            registry=r,
        )


class Gateway:
    """Builds the Faust app for one set of settings; ``app`` is what Faust runs."""

    def __init__(
        self,
        settings: Settings,
        gateway: GatewaySettings,
        catalog: TopicCatalog | None = None,
        mappings: Mappings | None = None,
        people: PeopleDirectory | None = None,
    ) -> None:
        self.settings, self.gateway = settings, gateway
        self.catalog = catalog or TopicCatalog.load(settings.topics_dir, settings.topic_prefix)
        self.mappings = mappings or load_mappings(gateway.mappings_file)
        self.people = people or (
            load_people(gateway.people_file) if gateway.people_file else PeopleDirectory()
        )
        self.metrics = GatewayMetrics()
        self.ready = False
        """Set once the app (producer, agents, web server) has started."""
        self.raw = {source: self.catalog.name(base) for source, base in RAW.items()}
        self.raw["salesforce"] = gateway.salesforce_topic or self.catalog.name(SALESFORCE)
        self.crm = {kind: self.catalog.name(spec.name) for kind, spec in self.catalog.crm().items()}
        datadir = settings.data_dir.parent / "gateway"
        datadir.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            f"{settings.app_id}-gateway",
            broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
            broker_credentials=faust_credentials(settings),
            store="memory://",
            datadir=str(datadir),
            autodiscover=False,
            web_enabled=True,
            web_bind=gateway.host,
            web_port=gateway.port,
            web_in_thread=False,
            web_tables_enabled=False,
            web_router_enabled=False,
            topic_replication_factor=settings.topic_replication_factor,
            topic_disable_leader=True,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            producer_linger_ms=settings.producer_linger_ms,
            broker_commit_interval=1.0,
            broker_session_timeout=settings.session_timeout_seconds,
            broker_heartbeat_interval=max(1.0, settings.session_timeout_seconds / 10),
        )
        for source, topic in self.raw.items():
            spec_base = RAW.get(source, SALESFORCE)
            partitions = self.catalog.spec(spec_base).partitions
            channel = raw_topic(self.app, topic, partitions=partitions)
            self.app.agent(channel, name=f"translate-{source}", concurrency=1)(
                self._translator(source)
            )
        self._pages()

    def _producer(self) -> AIOKafkaProducer:
        return self.app.producer._ensure_producer()  # type: ignore[attr-defined]

    # -- translators -------------------------------------------------------------

    def _translator(self, source: str) -> Any:
        translate = TRANSLATORS[source]

        async def agent(stream: faust.StreamT[bytes]) -> None:
            batches = stream.take_events(  # type: ignore[attr-defined]
                TRANSLATE_BATCH, within=TRANSLATE_WITHIN_SECONDS
            )
            async for events in batches:
                pending: list[Any] = []
                for event in events:
                    message = event.message
                    try:
                        result = translate(message.value or b"", self.mappings, self.people)
                    except Exception as exc:  # a translator bug must not stop the stream
                        log.exception("translator %s failed on %s", source, message.tp)
                        result = Translation()
                        result.reject(
                            EventRejected(RejectReason.INVALID_VALUE, f"translator error: {exc!r}"),
                            message.value or b"",
                        )
                    pending += await self.publish(
                        source, result, message.topic, message.partition, message.offset
                    )
                # Faust acknowledges a batch's offsets once the loop takes the next one.
                await asyncio.gather(*pending)

        agent.__name__ = agent.__qualname__ = f"translate_{source}"
        return agent

    async def publish(
        self, source: str, result: Translation, topic: str, partition: int, offset: int
    ) -> list[Any]:
        """Canonical events and dead letters to the producer; the futures of their acks."""
        producer = self._producer()
        pending = [
            await producer.send(self.crm[e.kind], key=e.lead_id.encode(), value=e.value)
            for e in result.events
        ]
        for dead in result.dead:
            headers = [
                ("stream-sla.reason", dead.reason.value.encode()),
                ("stream-sla.detail", dead.detail.encode()),
                ("stream-sla.topic", topic.encode()),
                ("stream-sla.partition", str(partition).encode()),
                ("stream-sla.offset", str(offset).encode()),
                ("stream-sla.source", source.encode()),
            ]
            pending.append(
                await producer.send(
                    self.catalog.dead_letter, key=None, value=dead.payload, headers=headers
                )
            )
            self.metrics.dead_letters.labels(source, dead.reason.value).inc()
        self.metrics.translated.labels(source).inc(len(result.events))
        return pending

    # -- web ---------------------------------------------------------------------------

    async def store_raw(self, source: str, body: bytes, request_id: str) -> None:
        """Write the body unchanged; raises TimeoutError/KafkaError if the broker does not ack."""
        headers = [
            ("stream-sla.received-at", str(time.time_ns() // 1_000_000).encode()),
            ("stream-sla.request-id", request_id.encode()),
        ]

        async def write() -> None:
            producer = self._producer()
            future = await producer.send(self.raw[source], value=body, headers=headers)
            await asyncio.shield(future)  # a timeout must not cancel the delivery itself

        await asyncio.wait_for(write(), self.gateway.ack_timeout_seconds)

    async def receive(self, source: str, web: Any, request: Any) -> Any:
        request_id = uuid.uuid4().hex
        status, answer = await self._receive(source, request, request_id)
        self.metrics.requests.labels(source, str(status)).inc()
        return web.json(
            {**answer, "request_id": request_id},
            status=status,
            headers={"X-Request-Id": request_id},
        )

    async def _receive(
        self, source: str, request: Any, request_id: str
    ) -> tuple[int, dict[str, Any]]:
        limit = self.gateway.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            return 413, {"error": f"body of {length} bytes, the limit is {limit}"}
        body = await read_bounded(request.content, limit)
        if body is None:
            return 413, {"error": f"body over the limit of {limit} bytes"}
        problem = self._unauthorised(source, request, body)
        if problem is not None:
            return (404 if problem == "off" else 401), {"error": problem}
        try:
            await self.store_raw(source, body, request_id)
        except (TimeoutError, KafkaError) as exc:
            log.warning("raw write %s failed (%r): answering 503", request_id, exc)
            return 503, {"error": "Kafka is unavailable; retry later"}
        return 200, {"stored": True}

    def _unauthorised(self, source: str, request: Any, body: bytes) -> str | None:
        g = self.gateway
        if source == "hubspot":
            if g.hubspot_client_secret is None:
                return "off"
            uri = str(request.url)
            if g.public_url:
                uri = g.public_url.rstrip("/") + request.rel_url.raw_path_qs
            return hubspot_problem(
                g.hubspot_client_secret.get_secret_value(),
                request.method,
                uri,
                body,
                request.headers.get("X-HubSpot-Request-Timestamp"),
                request.headers.get("X-HubSpot-Signature-v3"),
                time.time_ns() // 1_000_000,
            )
        if g.pipedrive_username is None or g.pipedrive_password is None:
            return "off"
        ok = basic_auth_ok(
            request.headers.get("Authorization"),
            g.pipedrive_username,
            g.pipedrive_password.get_secret_value(),
        )
        return None if ok else "HTTP basic auth (set on the Pipedrive webhook) is required"

    def _pages(self) -> None:
        gateway = self

        class HubSpotHook(faust.web.View):
            async def post(self, request: Any) -> Any:
                return await gateway.receive("hubspot", self, request)

        class PipedriveHook(faust.web.View):
            async def post(self, request: Any) -> Any:
                return await gateway.receive("pipedrive", self, request)

        self.app.page("/hooks/hubspot")(HubSpotHook)
        self.app.page("/hooks/pipedrive")(PipedriveHook)

        add_ops_pages(self.app, self.settings, self.metrics.registry, ready=lambda: gateway.ready)

        async def started() -> None:
            gateway.ready = True

        self.app.task(started)
