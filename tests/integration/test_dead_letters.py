"""Dead letters keep the original key and bytes, with reason, detail, topic, partition and
offset in headers, for every reason code the worker can meet on a CRM topic.

Each bad record is produced on its own, its partition and offset taken from the broker's
acknowledgement, and compared with the dead letter byte for byte. (``unknown_topic`` is a
replay-only reason: the worker subscribes to the CRM topics it knows.)
"""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer

from stream_sla.sla.events import EventKind, RejectReason
from stream_sla.sla.timestamps import format_ms

from .harness import Harness, now_ms

HANDED = EventKind.HANDED_TO_SALES
ATTEMPT = EventKind.CONTACT_ATTEMPT


def handed(lead_id: str, **override: object) -> bytes:
    body = {
        "event_id": f"e-{lead_id}",
        "lead_id": lead_id,
        "occurred_at": format_ms(now_ms()),
        "owner": "ana",
        "team": "smb-east",
        **override,
    }
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


def bad_records() -> dict[RejectReason, tuple[EventKind, bytes | None, bytes, str]]:
    """reason -> (topic kind, key, value, a fragment the detail header must contain)."""
    day = 86_400_000
    return {
        RejectReason.INVALID_JSON: (HANDED, b"D-json", b'{"event_id": "x", ', "char"),
        RejectReason.NOT_AN_OBJECT: (HANDED, b"D-array", b"[1, 2, 3]", "got list"),
        RejectReason.MISSING_FIELD: (
            HANDED,
            b"D-missing",
            handed("D-missing", owner=None),
            "owner",
        ),
        RejectReason.WRONG_TYPE: (HANDED, b"D-type", handed("D-type", team=7), "team"),
        RejectReason.INVALID_VALUE: (
            ATTEMPT,
            b"D-value",
            orjson.dumps(
                {
                    "event_id": "e",
                    "lead_id": "D-value",
                    "occurred_at": format_ms(now_ms()),
                    "channel": "carrier-pigeon",
                    "outcome": "sent",
                }
            ),
            "not one of",
        ),
        RejectReason.BAD_TIMESTAMP: (
            HANDED,
            b"D-naive",
            handed("D-naive", occurred_at="2026-11-02T14:00:00"),
            "occurred_at",
        ),
        RejectReason.KEY_MISMATCH: (HANDED, b"D-key", handed("D-other"), "D-other"),
        RejectReason.KEY_MISSING: (HANDED, None, handed("D-keyless"), "no key"),
        RejectReason.OVERSIZED: (
            HANDED,
            b"D-big",
            handed("D-big", team="x" * 70_000),
            "the limit is 65536",
        ),
        RejectReason.TOO_LATE: (
            HANDED,
            b"D-old",
            handed("D-old", occurred_at=format_ms(now_ms() - 31 * day)),
            "the lateness bound is 2592000s",
        ),
        RejectReason.TOO_FAR_IN_FUTURE: (
            HANDED,
            b"D-future",
            handed("D-future", occurred_at=format_ms(now_ms() + 3_600_000)),
            "at most 300s",
        ),
    }


async def test_every_reason_code_dead_letters_the_original_key_bytes_and_all_headers(
    harness: Harness,
) -> None:
    worker = harness.start_worker()
    worker.wait_ready()
    cases = bad_records()
    producer = AIOKafkaProducer(
        bootstrap_servers=harness.bootstrap, acks="all", max_request_size=1024 * 1024
    )
    await producer.start()
    produced: dict[bytes | None, tuple[RejectReason, str, int, int, bytes, str]] = {}
    try:
        for reason, (kind, key, value, fragment) in cases.items():
            topic = harness.catalog.name(harness.catalog.crm()[kind].name)
            meta = await producer.send_and_wait(topic, key=key, value=value)
            produced[key] = (reason, topic, meta.partition, meta.offset, value, fragment)
    finally:
        await producer.stop()

    dead = await harness.consume(
        "sla.dead-letter", until=lambda r: len(r) >= len(cases), timeout=60, settle=2.0
    )
    assert len(dead) == len(cases), [dict(r.headers) for r in dead]
    for record in dead:
        assert record.key in produced, record.key
        reason, topic, partition, offset, value, fragment = produced[record.key]
        headers = {name: raw.decode() for name, raw in record.headers}
        assert record.value == value, reason  # the original bytes, exactly
        assert set(headers) == {
            "stream-sla.reason",
            "stream-sla.detail",
            "stream-sla.topic",
            "stream-sla.partition",
            "stream-sla.offset",
        }
        assert headers["stream-sla.reason"] == reason.value
        assert headers["stream-sla.topic"] == topic
        assert headers["stream-sla.partition"] == str(partition)
        assert headers["stream-sla.offset"] == str(offset)
        assert fragment in headers["stream-sla.detail"], (reason, headers["stream-sla.detail"])

    m = worker.metrics()
    for reason in cases:
        assert m.get("stream_sla_dead_letters_total", reason=reason.value) == 1, reason
