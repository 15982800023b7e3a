"""The live sweep's slices: bounded, earliest first across partitions, and each partition
assessed as of its own horizon, never past it.

The last point was a defect: the worker popped deadlines up to ``min(now, horizon)`` but
assessed the popped leads at ``now``, so a later checkpoint of the same lead that fell between
the horizon and ``now`` was emitted though an attempt meeting it could still be unread.
"""

from __future__ import annotations

import orjson

from stream_sla.metrics import Metrics
from stream_sla.sla.deadlines import DeadlineIndex, Due
from stream_sla.sla.effects import Severity
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import Policy
from stream_sla.sla.timestamps import format_ms
from stream_sla.stream.processor import LeadProcessor, Record

T0 = 1_793_628_000_000  # 2026-11-02T14:00:00Z
MIN = 60_000


def crm(
    kind: EventKind, lead: str, eid: str, at: int, **fields: object
) -> tuple[EventKind, Record]:
    body = orjson.dumps({"event_id": eid, "lead_id": lead, "occurred_at": format_ms(at), **fields})
    return kind, Record(f"crm.{kind.value}", 0, 0, lead.encode(), body)


def test_a_lead_popped_for_its_warning_is_not_breached_past_the_horizon() -> None:
    now = T0 + 61 * MIN  # the first-touch deadline (T0 + 60 min) is past on the clock...
    horizon = T0 + 50 * MIN  # ...but the partition's input is complete only up to here
    clock = [T0]
    p = LeadProcessor(Policy(), Metrics(), clock=lambda: clock[0])
    p.apply([crm(EventKind.HANDED_TO_SALES, "L-1", "h", T0, owner="ana", team="t")])

    [part] = p.index.pop_slices(now, lambda partition: horizon, most=100)
    assert part.until == horizon
    fired = p.fire(part.due, part.until)
    assert [v.severity for v in fired.violations] == [Severity.WARNING]  # 45 min: not the breach

    # the attempt that was still unread: written at 55 min, it meets the deadline
    clock[0] = now
    p.apply(
        [
            crm(
                EventKind.CONTACT_ATTEMPT,
                "L-1",
                "a",
                T0 + 55 * MIN,
                channel="call",
                outcome="no_answer",
            )
        ]
    )
    later = p.index.pop_slices(now, lambda partition: now, most=100)
    assert [v for part in later for v in p.fire(part.due, part.until).violations] == []


def test_a_slice_takes_the_earliest_deadlines_across_partitions_up_to_its_bound() -> None:
    index = DeadlineIndex()
    for n in range(10):
        index.schedule(f"A-{n}", 0, 1_000 + 10 * n)  # 1000, 1010, ... 1090
        index.schedule(f"B-{n}", 1, 1_005 + 10 * n)  # 1005, 1015, ... 1095
    index.schedule("A-0", 0, 1_001)  # re-scheduled: the superseded entry is skipped, not counted

    first = index.pop_slices(2_000, lambda partition: 2_000, most=5)
    assert [(s.partition, [d.at for d in s.due]) for s in first] == [
        (0, [1_001, 1_010, 1_020]),
        (1, [1_005, 1_015]),
    ]
    rest = index.pop_slices(2_000, lambda partition: 2_000, most=100)
    assert sum(len(s.due) for s in rest) == 15
    assert len(index) == 0


def test_a_slice_leaves_a_partition_behind_its_gate_and_stops_at_each_horizon() -> None:
    index = DeadlineIndex()
    for n in range(5):
        index.schedule(f"A-{n}", 0, 100 * n)
        index.schedule(f"B-{n}", 1, 100 * n)
        index.schedule(f"C-{n}", 2, 100 * n)
    horizons = {0: 250, 1: None, 2: 1_000}

    slices = index.pop_slices(300, horizons.get, most=100)
    assert [(s.partition, s.until, [d.at for d in s.due]) for s in slices] == [
        (0, 250, [0, 100, 200]),
        (2, 300, [0, 100, 200, 300]),
    ]
    assert index.pop_slices(300, horizons.get, most=100) == []
    assert index.any_due(300)  # partition 1's, gated
    opened = {s.partition: s.due for s in index.pop_slices(400, lambda partition: 400, most=100)}
    assert opened[1][0] == Due(0, "B-0", 1)
