"""Replay drives the worker's engine: same partitioner as the producer, same state rows."""

from __future__ import annotations

from collections import Counter

import orjson
from aiokafka.partitioner import DefaultPartitioner

from stream_sla.replay import Replay, default_partition, read_events
from stream_sla.sla.engine import Retention
from stream_sla.sla.policy import Policy

DAY = 86_400_000


def test_a_replayed_lead_sits_on_the_partition_the_producer_sends_its_key_to() -> None:
    for n in range(200):
        key = f"L-{n}".encode()
        assert default_partition(key, 12) == DefaultPartitioner()(key, list(range(12)), [])


def lines() -> list[bytes]:
    base = {"lead_id": "L-1"}
    return [
        orjson.dumps({"type": "handed-to-sales", "event_id": "h", "owner": "ana", "team": "t",
                      "occurred_at": "2026-11-02T14:00:00Z", **base}),
        orjson.dumps({"type": "lead-status-changed", "event_id": "s", "status": "disqualified",
                      "occurred_at": "2026-11-02T14:10:00Z", **base}),
        orjson.dumps({"type": "handed-to-sales", "event_id": "h2", "owner": "bo", "team": "t",
                      "occurred_at": "2026-11-05T14:00:00Z", **base}),
    ]  # fmt: skip


def test_with_the_workers_retention_a_replay_evicts_a_closed_lead_as_live_does() -> None:
    events = read_events(lines(), Counter())
    kept = Replay(Policy(), partitions=4)
    evicting = Replay(Policy(), partitions=4, retention=Retention(closed_ms=DAY))
    for replay in (kept, evicting):
        for event in events:
            replay.apply(event)
    end = events[-1].occurred_at
    assert [len(s.handoffs) for s in kept.finish(end).states.values()] == [2]
    # closed for a day, then forgotten: the re-opening hand-off starts a lead afresh
    assert [len(s.handoffs) for s in evicting.finish(end).states.values()] == [1]
    assert evicting.engine.partitions[default_partition(b"L-1", 4)].leads
