"""First touch: a lead handed to sales must get a contact attempt within the target (1 hour)."""

from __future__ import annotations

import pytest

from stream_sla.sla.effects import FirstTouchMeasured, Rule, Severity, SlaViolation, effect_id
from stream_sla.sla.events import (
    Channel,
    ContactAttempt,
    Event,
    HandedToSales,
    LeadCreated,
    LeadStatus,
    LeadStatusChanged,
    Outcome,
)
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import FirstTouchRule, Policy, Segment, WarnAt

MIN = 60_000
HOUR = 60 * MIN
T0 = 1_793_628_000_000  # 2026-11-02T14:00:00Z, a Monday afternoon
POLICY = Policy(
    version="test-1",
    segments=(
        Segment(
            "default",
            first_touch=FirstTouchRule(HOUR, warn=WarnAt(0.75)),
            attempts=None,
            disposition=None,
        ),
    ),
)


def handed(at: int, owner: str = "ana", team: str = "smb-east", eid: str = "h1") -> HandedToSales:
    return HandedToSales(eid, "L-1", at, owner=owner, team=team)


def attempt(at: int, eid: str = "a1") -> ContactAttempt:
    return ContactAttempt(eid, "L-1", at, Channel.CALL, Outcome.VOICEMAIL, owner="ana")


def status(at: int, value: LeadStatus, eid: str = "s1") -> LeadStatusChanged:
    return LeadStatusChanged(eid, "L-1", at, value)


def lead(*events: Event) -> LeadState:
    state = LeadState("L-1")
    for event in events:
        state.add(event)
    return state


def violations(state: LeadState, now: int) -> list[tuple[Severity, int]]:
    return [
        (e.severity, e.deadline_at if e.severity is Severity.BREACH else e.detected_at)
        for e in state.take_due(POLICY, now)
        if isinstance(e, SlaViolation)
    ]


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        ((handed(T0),), T0 + 44 * MIN, []),
        ((handed(T0),), T0 + 45 * MIN, [(Severity.WARNING, T0 + 45 * MIN)]),
        ((handed(T0),), T0 + HOUR, [(Severity.BREACH, T0 + HOUR)]),
        ((handed(T0), attempt(T0 + 5 * MIN)), T0 + 2 * HOUR, []),
        ((handed(T0), attempt(T0 + HOUR)), T0 + 2 * HOUR, []),
        ((handed(T0), attempt(T0 + 50 * MIN)), T0 + 2 * HOUR, []),
        ((handed(T0), attempt(T0 + HOUR + 1)), T0 + 2 * HOUR, [(Severity.BREACH, T0 + HOUR)]),
        ((handed(T0), status(T0 + 10 * MIN, LeadStatus.DISQUALIFIED)), T0 + 2 * HOUR, []),
        (
            (handed(T0), status(T0 + 10 * MIN, LeadStatus.QUALIFIED)),
            T0 + 2 * HOUR,
            [(Severity.BREACH, T0 + HOUR)],
        ),
        ((handed(T0), attempt(T0 - MIN)), T0 + 2 * HOUR, [(Severity.BREACH, T0 + HOUR)]),
        ((LeadCreated("c1", "L-1", T0, source="web_form"),), T0 + 9 * HOUR, []),
    ],
    ids=[
        "quiet-before-warning",
        "warning-at-75-percent",
        "breach-exactly-at-deadline-warning-folded-in",
        "five-minute-touch-is-met",
        "touch-exactly-at-deadline-is-met",
        "warning-found-late-after-the-touch-is-not-sent",
        "touch-one-ms-late-breaches",
        "disqualified-before-deadline-stops-clock",
        "qualified-without-attempt-does-not-stop-clock",
        "attempt-before-hand-off-does-not-count",
        "no-hand-off-no-clock",
    ],
)
def test_first_touch_verdicts(events: tuple[Event, ...], now: int, expected: list[object]) -> None:
    assert violations(lead(*events), now) == expected


def test_breach_fires_at_deadline_without_further_events() -> None:
    state = lead(handed(T0))
    assert state.next_deadline(POLICY) == T0 + 45 * MIN
    state.take_due(POLICY, T0 + 45 * MIN)
    assert state.next_deadline(POLICY) == T0 + HOUR
    [breach] = state.take_due(POLICY, T0 + HOUR + 250)
    assert isinstance(breach, SlaViolation)
    assert breach.detected_at == T0 + HOUR + 250
    assert breach.id == effect_id("L-1", Rule.FIRST_TOUCH, Severity.BREACH, T0)
    assert state.next_deadline(POLICY) is None


def test_late_first_attempt_does_not_emit_a_second_breach() -> None:
    state = lead(handed(T0))
    assert len(state.take_due(POLICY, T0 + HOUR)) == 1
    state.add(attempt(T0 + 90 * MIN))
    assert state.take_due(POLICY, T0 + 3 * HOUR) == []
    [measure] = state.take_measures(POLICY)
    assert isinstance(measure, FirstTouchMeasured)
    assert measure.seconds == 90 * 60


def test_breach_names_the_rep_holding_the_lead_at_the_deadline() -> None:
    state = lead(handed(T0), handed(T0 + 20 * MIN, owner="ben", team="smb-west", eid="h2"))
    [breach] = state.take_due(POLICY, T0 + 2 * HOUR)
    assert isinstance(breach, SlaViolation)
    assert (breach.owner, breach.team, breach.deadline_at) == ("ben", "smb-west", T0 + HOUR)


def test_recycled_lead_handed_again_gets_a_new_clock() -> None:
    state = lead(
        handed(T0),
        status(T0 + 10 * MIN, LeadStatus.RECYCLED),
        handed(T0 + 5 * HOUR, eid="h2"),
    )
    [breach] = state.take_due(POLICY, T0 + 7 * HOUR)
    assert isinstance(breach, SlaViolation)
    assert breach.cycle_started_at == T0 + 5 * HOUR


def test_first_touch_is_measured_once_per_cycle() -> None:
    state = lead(handed(T0), attempt(T0 + 5 * MIN))
    assert [
        m.seconds for m in state.take_measures(POLICY) if isinstance(m, FirstTouchMeasured)
    ] == [300.0]
    state.add(attempt(T0 + 7 * MIN, eid="a2"))
    assert state.take_measures(POLICY) == []
