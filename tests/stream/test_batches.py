"""A batch as the agent hands it over: grouped by lead, one state write per lead, nothing lost.

No broker here; the agent around this, recovery and rebalances run against the real one
in tests/integration.
"""

from __future__ import annotations

import orjson

from stream_sla.metrics import CrmLabels, Metrics
from stream_sla.sla.effects import Severity
from stream_sla.sla.engine import SlaEngine
from stream_sla.sla.events import EventKind, RejectReason
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import load_header, load_state
from stream_sla.stream.processor import LeadProcessor, Record

T0 = 1_793_628_000_000  # 2026-11-02T14:00:00Z
HOUR = 3_600_000


class Clock:
    def __init__(self) -> None:
        self.now = T0 + HOUR // 2  # events below are from the half hour before

    def __call__(self) -> int:
        return self.now


def record(kind: EventKind, offset: int, **fields: object) -> tuple[EventKind, Record]:
    key = str(fields["lead_id"]).encode()
    return kind, Record(f"crm.{kind.value}", 3, offset, key, orjson.dumps(fields))


def handed(lead: str, offset: int = 0) -> tuple[EventKind, Record]:
    return record(
        EventKind.HANDED_TO_SALES,
        offset,
        event_id=f"{lead}-h",
        lead_id=lead,
        occurred_at="2026-11-02T14:00:00Z",
        owner="ana",
        team="smb-east",
    )


def attempt(lead: str, eid: str, at: str, offset: int = 0) -> tuple[EventKind, Record]:
    return record(
        EventKind.CONTACT_ATTEMPT,
        offset,
        event_id=eid,
        lead_id=lead,
        occurred_at=at,
        channel="call",
        outcome="no_answer",
    )


def setup() -> tuple[LeadProcessor, SlaEngine[Record], Clock]:
    clock = Clock()
    p = LeadProcessor(Policy(), Metrics(), clock=clock)
    return p, p.engine, clock


def test_a_lead_with_several_events_in_a_batch_is_written_once_with_all_of_them() -> None:
    p, store, _ = setup()
    p.apply(
        [
            handed("L-1"),
            attempt("L-1", "a1", "2026-11-02T14:10:00Z", 1),
            attempt("L-1", "a2", "2026-11-02T14:20:00Z", 2),
            handed("L-2", 3),
        ]
    )
    changes = store.take_changes().leads
    assert set(changes[3]) == {"L-1", "L-2"}  # one changelog record per lead, not per event
    state = load_state("L-1", store.lead_row(3, "L-1") or b"")
    assert [a.event_id for a in state.attempts] == ["a1", "a2"]
    assert store.take_changes().leads == {}  # nothing changed since


def test_the_state_carries_its_wake_up_and_gauge_summary_for_recovery() -> None:
    p, store, _ = setup()
    p.apply([handed("L-1")])
    wake, summary = load_header(store.lead_row(3, "L-1") or b"")
    assert wake == T0 + 45 * 60_000  # the default policy's first-touch warning
    assert summary is not None and summary.team == "smb-east" and summary.awaiting_first_touch


def test_malformed_records_are_dead_lettered_and_the_rest_of_the_batch_is_applied() -> None:
    p, store, _ = setup()
    outbox = p.apply(
        [
            (EventKind.CONTACT_ATTEMPT, Record("crm.contact-attempt", 3, 0, b"L-2", b"not json")),
            attempt("L-2", "a1", "2026-11-02T14:00:00", 1),  # no time zone
            handed("L-2", 2),
        ]
    )
    assert [rejected.reason for _, rejected in outbox.dead_letters] == [
        RejectReason.INVALID_JSON,
        RejectReason.BAD_TIMESTAMP,
    ]
    assert outbox.dead_letters[0][0].value == b"not json"  # the original bytes, untouched
    assert store.lead_row(3, "L-2") is not None


def test_a_duplicate_in_the_same_batch_counts_as_a_duplicate() -> None:
    p, _, _ = setup()
    p.apply([handed("L-1"), handed("L-1", 1)])
    samples = p.metrics.duplicate_events.collect()[0].samples
    assert [s.value for s in samples if s.name.endswith("_total")] == [1.0]


def test_a_deadline_sweep_breaches_once_and_a_rebuild_restores_the_schedule() -> None:
    p, store, clock = setup()
    p.apply([handed("L-1")])
    clock.now = T0 + HOUR + 100
    first = p.fire(p.index.pop_due(clock.now), clock.now)
    again = p.fire(p.index.pop_due(clock.now), clock.now)
    assert [(v.severity, v.deadline_at) for v in first.violations] == [(Severity.BREACH, T0 + HOUR)]
    assert again.violations == []
    next_at = p.index.next_at()
    assert next_at == T0 + 36 * HOUR  # next: the disposition warning

    # a new owner of partition 3 gets the same schedule from the stored header alone
    known = Metrics(labels=CrmLabels.from_policy(Policy(), teams=["smb-east"]))
    other = LeadProcessor(Policy(), known, clock=clock)
    other.restore(3, dict(store.lead_rows(3)), {})
    assert other.index.next_at() == next_at
    assert other.metrics.open_leads.team_totals()["smb-east"]["breached"] == 1


def test_store_coalesces_changes_and_turns_an_eviction_into_a_tombstone() -> None:
    store: SlaEngine[Record] = SlaEngine(Policy())
    store.restore(0, {}, {})
    store.restore(1, {}, {})
    store.partitions[0].write_lead("a", b"1")
    store.partitions[0].write_lead("a", b"2")
    store.partitions[1].write_lead("b", b"3")
    assert store.take_changes().leads == {0: {"a": b"2"}, 1: {"b": b"3"}}
    store.partitions[1].delete_lead("b")
    store.partitions[1].delete_lead("never-there")
    assert store.take_changes().leads == {1: {"b": None}}
    store.drop([0])
    assert store.lead_row(0, "a") is None and len(store) == 0
