"""Per-lead limits: a flooded lead keeps what its rules need, in bounded state."""

from __future__ import annotations

from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.events import Channel, ContactAttempt, HandedToSales, LeadStatus, Outcome
from stream_sla.sla.events import LeadStatusChanged as Status
from stream_sla.sla.lead import (
    MAX_ATTEMPTS_KEPT,
    MAX_HANDOFFS_KEPT,
    MAX_STATUSES_KEPT,
    Added,
    LeadState,
)
from stream_sla.sla.snapshot import dump_state

from .test_first_touch import HOUR, POLICY, T0


def test_thirty_thousand_reassignments_keep_the_first_and_newest_hand_off() -> None:
    state = LeadState("L-1")
    results = [
        state.add_fact(HandedToSales(f"h{i}", "L-1", T0 + i, owner=f"rep-{i}", team="east"))
        for i in range(30_000)
    ]
    assert results.count(Added.NEW) == MAX_HANDOFFS_KEPT
    assert results.count(Added.FOLDED) == 30_000 - MAX_HANDOFFS_KEPT
    assert len(state.handoffs) == MAX_HANDOFFS_KEPT
    assert state.handoffs[0].event_id == "h0" and state.handoffs[-1].event_id == "h29999"
    [breach] = [
        e
        for e in state.take_due(POLICY, T0 + 2 * HOUR)
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    ]
    assert breach.deadline_at == T0 + HOUR  # the clock still starts at the first hand-off
    assert len(dump_state(state)) < 4096


def test_repeated_statuses_fold_but_the_closing_one_is_kept() -> None:
    state = LeadState("L-1")
    state.add_fact(HandedToSales("h0", "L-1", T0, owner="ana", team="east"))
    for i in range(30_000):
        state.add_fact(Status(f"s{i}", "L-1", T0 + 1 + i, LeadStatus.ACCEPTED))
    assert state.add_fact(Status("lost", "L-1", T0 + 40_000, LeadStatus.LOST)) is Added.FOLDED
    assert len(state.statuses) <= MAX_STATUSES_KEPT
    assert state.statuses[0].event_id == "s0"  # the first status: the disposition rule reads it
    assert state.summary() is None  # closed by the lost status


def test_attempts_past_the_cap_are_over_limit_not_duplicates() -> None:
    state = LeadState("L-1")
    state.add_fact(HandedToSales("h0", "L-1", T0, owner="ana", team="east"))
    results = [
        state.add_fact(
            ContactAttempt(f"a{i}", "L-1", T0 + i, Channel.CALL, Outcome.NO_ANSWER, owner="ana")
        )
        for i in range(100)
    ]
    assert results.count(Added.NEW) == MAX_ATTEMPTS_KEPT
    assert results.count(Added.OVER_LIMIT) == 100 - MAX_ATTEMPTS_KEPT
    assert Added.DUPLICATE not in results
    again = ContactAttempt("a0", "L-1", T0, Channel.CALL, Outcome.NO_ANSWER, owner="ana")
    assert state.add_fact(again) is Added.DUPLICATE


def test_many_cycles_drop_the_oldest_whole_with_what_was_emitted_for_it() -> None:
    state = LeadState("L-1")
    for i in range(100):
        start = T0 + i * 10 * HOUR
        state.add_fact(HandedToSales(f"h{i}", "L-1", start, owner="ana", team="east"))
        state.take_due(POLICY, start + 2 * HOUR)  # emits this cycle's breach
        state.add_fact(Status(f"s{i}", "L-1", start + 3 * HOUR, LeadStatus.DISQUALIFIED))
    assert len(state.handoffs) == MAX_HANDOFFS_KEPT
    assert len(state.emitted) < 10 * MAX_HANDOFFS_KEPT
