"""Issue 16's defect through the worker's processor: a late earlier hand-off after a breach.

The processor publishes what the core returns: the breach of the T0+10m cycle, its
retraction when the T0 hand-off arrives, and the breach of the T0 cycle; one effective
breach, a retraction counted by reason, and state that remembers it across a reload.
"""

from __future__ import annotations

import orjson

from stream_sla.metrics import Metrics
from stream_sla.sla.effects import Severity
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import Policy
from stream_sla.stream.processor import LeadProcessor, Record

T0 = 1_793_628_000_000  # 2026-11-02T14:00:00Z
MIN = 60_000


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def handed(eid: str, at: str, offset: int) -> tuple[EventKind, Record]:
    value = {"event_id": eid, "lead_id": "L-1", "occurred_at": at, "owner": "ana", "team": "t"}
    return EventKind.HANDED_TO_SALES, Record(
        "crm.handed-to-sales", 0, offset, b"L-1", orjson.dumps(value)
    )


def test_a_late_earlier_handoff_publishes_a_retraction_and_one_effective_breach() -> None:
    clock = Clock(T0 + 10 * MIN)
    metrics = Metrics()
    p = LeadProcessor(Policy(), metrics, clock=clock)
    p.apply([handed("h-late", "2026-11-02T14:10:00Z", 0)])
    clock.now = T0 + 75 * MIN
    first = p.fire(p.index.pop_due(clock.now), clock.now)
    [late_breach] = [v for v in first.violations if v.severity is Severity.BREACH]
    assert late_breach.id == "88e542a5-94d8-578f-9fa5-67958cb18f6d"  # pinned: lead, rule, T0+10m

    clock.now = T0 + 80 * MIN
    arrived = p.apply([handed("h-first", "2026-11-02T14:00:00Z", 1)])
    [retraction] = arrived.retractions
    assert retraction.retracts == late_breach.id
    assert retraction.to_record()["reason"] == "cycle_moved"
    assert retraction.to_record()["detected_at"] == "2026-11-02T15:20:00.000Z"
    retracted = metrics.registry.get_sample_value(
        "stream_sla_breaches_retracted_total", {"rule": "first_touch", "reason": "cycle_moved"}
    )
    assert retracted == 1

    assert late_breach.id not in [v.id for v in p.recent.items()]  # off the status page

    clock.now = T0 + 81 * MIN
    second = p.fire(p.index.pop_due(clock.now), clock.now)
    [breach] = [v for v in second.violations if v.severity is Severity.BREACH]
    assert breach.id == "f087242a-caa1-5113-8a92-e2704820a09d"  # pinned: lead, rule, T0
    assert breach.id != late_breach.id
    clock.now = T0 + 6 * 60 * MIN
    later = p.fire(p.index.pop_due(clock.now), clock.now)
    assert [v.id for v in later.violations if v.severity is Severity.BREACH] == []
    assert later.retractions == []
