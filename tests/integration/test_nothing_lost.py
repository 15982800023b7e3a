"""Nothing lost on the real broker: refused records, keyless events, oversized dead letters.

Each test here failed on the worker before issue 10: it committed input whose output
Kafka had refused, accepted keyless records, and lost dead letters near the size limit.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import RecordMetadata, TopicPartition

from stream_sla.sla.events import EventKind
from stream_sla.stream.delivery import EXIT_PRODUCE_REFUSED

from .harness import Harness, crm_event, now_ms, values, wait_for


async def set_topic_config(harness: Harness, base_name: str, **config: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=harness.bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC,
            harness.catalog.name(base_name),
            {k.replace("_", "."): v for k, v in config.items()},
        )
        await admin.alter_configs([resource])
    finally:
        await admin.close()


async def committed(harness: Harness, tp: TopicPartition) -> int | None:
    """The consumer group's committed offset of one partition (None: never committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=harness.bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(harness.app_id)
    finally:
        await admin.close()
    found = offsets.get(tp)
    return found.offset if found is not None else None


async def send(
    harness: Harness, kind: EventKind, key: bytes | None, value: bytes
) -> RecordMetadata:
    producer = AIOKafkaProducer(
        bootstrap_servers=harness.bootstrap, acks="all", max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        topic = harness.catalog.name(harness.catalog.crm()[kind].name)
        return await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


async def wait_committed(
    harness: Harness,
    tp: TopicPartition,
    offset: int,
    timeout: float,  # noqa: ASYNC109 - a read deadline, not a cancellation scope
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ((await committed(harness, tp)) or 0) >= offset:
            return True
        await asyncio.sleep(0.3)
    return False


async def test_a_refused_state_record_stops_the_worker_with_its_input_uncommitted(
    harness: Harness,
) -> None:
    # Lead state records (batches) over 300 bytes are refused by the broker from now on.
    await set_topic_config(harness, "sla.lead-state", max_message_bytes="300")
    worker = harness.start_worker("w1", produce_retry_seconds=6)
    worker.wait_ready()
    t0 = now_ms()
    _, _, small = crm_event(EventKind.LEAD_CREATED, "L-small", "c-1", t0, source="web_form")
    first = await send(harness, EventKind.LEAD_CREATED, b"L-small", small)
    tp = TopicPartition(first.topic, first.partition)
    assert await wait_committed(harness, tp, first.offset + 1, timeout=30), worker.log_tail()

    _, _, big = crm_event(EventKind.LEAD_CREATED, "L-big", "c-2", t0, source="s" * 250)
    refused = await send(harness, EventKind.LEAD_CREATED, b"L-big", big)
    refused_tp = TopicPartition(refused.topic, refused.partition)

    def failures_counted() -> bool:
        try:
            m = worker.metrics()
        except OSError:
            return False
        lead_state = harness.catalog.lead_state
        return (
            m.get(
                "stream_sla_produce_failures_total",
                topic=lead_state,
                error="MessageSizeTooLargeError",
            )
            or 0
        ) >= 1

    assert await wait_for(failures_counted, timeout=20), worker.log_tail()
    assert await wait_for(lambda: worker.process.poll() is not None, timeout=30), worker.log_tail()
    assert worker.process.returncode == EXIT_PRODUCE_REFUSED, worker.log_tail()
    log = worker.log_tail(400)
    assert "Kafka refused" in log and "MessageSizeTooLargeError" in log, log
    assert "gave up" in log, log
    assert ((await committed(harness, refused_tp)) or 0) <= refused.offset, "input was committed"

    # Once the broker takes the record again, a restart processes the event: nothing was lost.
    await set_topic_config(harness, "sla.lead-state", max_message_bytes="1048588")
    again = harness.start_worker("w2")
    again.wait_ready()
    assert await wait_committed(harness, refused_tp, refused.offset + 1, timeout=30), (
        again.log_tail()
    )
    assert await wait_for(
        lambda: (again.metrics().get("stream_sla_state_leads") or 0) >= 1, timeout=10
    )


async def test_keyless_and_wrongly_keyed_events_are_dead_lettered_and_the_breach_fires(
    harness: Harness,
) -> None:
    worker = harness.start_worker("w1", first_touch_within="3s")
    worker.wait_ready()
    t0 = now_ms()
    _, _, handoff = crm_event(EventKind.HANDED_TO_SALES, "L-1", "h-1", t0, owner="ana", team="east")
    _, _, keyless = crm_event(
        EventKind.HANDED_TO_SALES, "L-1", "h-2", t0 + 10, owner="bob", team="west"
    )
    _, _, attempt = crm_event(
        EventKind.CONTACT_ATTEMPT, "L-1", "a-1", t0 + 20, channel="call", outcome="connected"
    )
    await harness.produce(
        [
            (EventKind.HANDED_TO_SALES, "L-1", handoff),
            (EventKind.HANDED_TO_SALES, None, keyless),
            (EventKind.CONTACT_ATTEMPT, "L-2", attempt),  # would have met the deadline
        ]
    )
    dead = await harness.consume("sla.dead-letter", until=lambda r: len(r) >= 2, timeout=20)
    reasons = sorted(dict(r.headers)["stream-sla.reason"].decode() for r in dead)
    assert reasons == ["key_mismatch", "key_missing"]
    [breach] = await harness.consume(
        "sla.breaches", until=lambda r: len(r) >= 1, timeout=30, settle=2
    )
    body = values([breach])[0]
    assert (body["lead_id"], body["rule"], body["owner"]) == ("L-1", "first_touch", "ana")
    m = worker.metrics()
    assert m.get("stream_sla_dead_letters_total", reason="key_missing") == 1
    assert m.get("stream_sla_dead_letters_total", reason="key_mismatch") == 1


async def test_a_dead_letter_near_the_size_limit_is_cut_to_fit_and_says_so(
    harness: Harness,
) -> None:
    worker = harness.start_worker("w1")
    worker.wait_ready()
    padding = "x" * 1_048_300
    value = orjson.dumps({"event_id": "e-1", "lead_id": "L-1", "padding": padding})
    assert 1_048_300 < len(value) < 1_048_588
    await send(harness, EventKind.LEAD_CREATED, b"L-1", value)
    [dead] = await harness.consume("sla.dead-letter", until=lambda r: len(r) >= 1, timeout=30)
    headers = dict(dead.headers)
    assert headers["stream-sla.reason"] == b"oversized"
    assert headers["stream-sla.truncated"] == b"value"
    assert headers["stream-sla.original-size"] == str(len(value)).encode()
    assert dead.key == b"L-1"
    assert dead.value is not None and 0 < len(dead.value) < len(value)
    assert value.startswith(dead.value)
    assert worker.metrics().get("stream_sla_dead_letters_total", reason="oversized") == 1
    assert worker.process.poll() is None
