"""Dead-letter records that the dead-letter topic accepts, however large the bad input was.

The dead letter keeps the original key and value bytes and adds headers (reason, detail,
where it came from). An input just under the broker's limit no longer fits once our
headers are added, and a refused dead letter would be a lost one. So the record is sized
to the topic's ``max.message.bytes`` (read from ``topics/sla.dead-letter.yaml``): when it
would not fit, the value (and, if need be, the key) is cut, and headers say so:
``stream-sla.truncated`` (``value``, ``key`` or ``key,value``) and
``stream-sla.original-size`` (the value's size in bytes). A record close to the limit
goes alone in its producer batch, so two large ones never add up to a refused batch.
"""

from __future__ import annotations

from stream_sla.stream.delivery import Header, Parcel
from stream_sla.stream.processor import Record

BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
"""Kafka's default ``message.max.bytes`` (used when topics/ sets no ``max.message.bytes``)."""

RECORD_OVERHEAD = 512
"""Room left for the record batch header (61 bytes) and per-record varints, with margin."""

MAX_KEY_BYTES = 1024
"""A key longer than this is cut when the record must be cut (a lead id is far shorter)."""


def dead_letter_headers(record: Record, reason: str, detail: str) -> list[Header]:
    return [
        ("stream-sla.reason", reason.encode()),
        ("stream-sla.detail", detail.encode()[:4096]),
        ("stream-sla.topic", record.topic.encode()),
        ("stream-sla.partition", str(record.partition).encode()),
        ("stream-sla.offset", str(record.offset).encode()),
    ]


def dead_letter_parcel(
    topic: str, partitions: int, max_bytes: int, record: Record, reason: str, detail: str
) -> Parcel:
    headers = dead_letter_headers(record, reason, detail)
    key, value = record.key, record.value
    if _size(key, value, headers) > max_bytes:
        truncated = []
        original = len(value)
        if key is not None and len(key) > MAX_KEY_BYTES:
            key = key[:MAX_KEY_BYTES]
            truncated.append("key")
        headers += [("stream-sla.truncated", b""), ("stream-sla.original-size", b"")]
        room = max_bytes - _size(key, b"", headers) - 32  # 32: the two headers' final values
        if room < len(value):
            value = value[: max(0, room)]
            truncated.append("value")
        headers[-2] = ("stream-sla.truncated", ",".join(truncated).encode())
        headers[-1] = ("stream-sla.original-size", str(original).encode())
    alone = _size(key, value, headers) > max_bytes // 2
    return Parcel(
        topic, [(key, value, headers)], partition=record.partition % partitions if alone else None
    )


def _size(key: bytes | None, value: bytes, headers: list[Header]) -> int:
    return (
        RECORD_OVERHEAD
        + (len(key) if key else 0)
        + len(value)
        + sum(len(name) + len(data) + 10 for name, data in headers)
    )
