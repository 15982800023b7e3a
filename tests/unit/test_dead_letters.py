"""Dead letters sized to the dead-letter topic, keys checked, deadlines per partition and lead."""

from __future__ import annotations

import pytest

from stream_sla.sla.deadlines import DeadlineIndex
from stream_sla.sla.events import EventKind, EventRejected, RejectReason, decode_event
from stream_sla.stream.dead_letters import dead_letter_parcel
from stream_sla.stream.delivery import Parcel
from stream_sla.stream.processor import Record

LIMIT = 1_048_588


def parcel_for(value: bytes, key: bytes | None = b"L-1", limit: int = LIMIT) -> Parcel:
    record = Record("crm.lead-created", 3, 42, key, value)
    return dead_letter_parcel("sla.dead-letter", 1, limit, record, "oversized", "too big")


def test_a_small_dead_letter_keeps_its_bytes_and_goes_with_others() -> None:
    parcel = parcel_for(b"{not json")
    [(key, value, headers)] = parcel.records
    assert (key, value, parcel.partition) == (b"L-1", b"{not json", None)
    assert "stream-sla.truncated" not in dict(headers)


@pytest.mark.parametrize("size", [1_048_400, 1_048_480, 3_000_000], ids=["400", "480", "3MB"])
def test_a_dead_letter_over_the_topic_limit_is_cut_and_says_so(size: int) -> None:
    original = b"x" * size
    parcel = parcel_for(original)
    [(key, value, headers)] = parcel.records
    assert value is not None and original.startswith(value)
    found = dict(headers)
    assert found["stream-sla.truncated"] == b"value"
    assert found["stream-sla.original-size"] == str(size).encode()
    wire = len(key or b"") + len(value) + sum(len(n) + len(v) + 10 for n, v in headers) + 100
    assert wire < LIMIT
    assert parcel.partition == 0  # alone in its producer batch


def test_a_huge_key_is_cut_too() -> None:
    [(key, _, headers)] = parcel_for(b"x" * 2_000_000, key=b"k" * 10_000).records
    assert key == b"k" * 1024
    assert dict(headers)["stream-sla.truncated"] == b"key,value"


def test_a_record_without_a_key_is_refused_as_key_missing() -> None:
    body = b'{"event_id":"e","lead_id":"L-1","occurred_at":"2026-11-30T09:00:00Z","source":"web"}'
    with pytest.raises(EventRejected) as refused:
        decode_event(EventKind.LEAD_CREATED, None, body)
    assert refused.value.reason is RejectReason.KEY_MISSING
    with pytest.raises(EventRejected) as mismatched:
        decode_event(EventKind.LEAD_CREATED, b"L-2", body)
    assert mismatched.value.reason is RejectReason.KEY_MISMATCH
    assert decode_event(EventKind.LEAD_CREATED, b"L-1", body).lead_id == "L-1"


def test_a_lead_on_two_partitions_keeps_a_deadline_on_each() -> None:
    index = DeadlineIndex()
    index.schedule("L-1", 0, 1_000)
    index.schedule("L-1", 5, 9_000)  # a stray record of the lead on another partition
    assert len(index) == 2
    assert [(d.lead_id, d.partition) for d in index.pop_due(1_000)] == [("L-1", 0)]
    index.drop_partitions({5})
    assert len(index) == 0
