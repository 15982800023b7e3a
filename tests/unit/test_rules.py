"""Depth (attempt ladder), disposition, re-assignment and settlement of the sales-side SLA."""

from __future__ import annotations

import pytest

from stream_sla.sla.effects import RuleSettled, Settlement, Severity, SlaViolation
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
from stream_sla.sla.policy import (
    NO_WARNING,
    AttemptsRule,
    DispositionRule,
    FirstTouchRule,
    Policy,
    Reassignment,
    Rung,
    Segment,
    WarnAt,
)

HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_793_628_000_000  # 2026-11-02T14:00:00Z

LADDER = AttemptsRule(
    ladder=(Rung(3, 14 * DAY), Rung(5, 28 * DAY), Rung(7, 56 * DAY)),
    min_spacing_ms=HOUR,
    warn=WarnAt(fraction=None, before_ms=2 * DAY),
)
ATTEMPTS_ONLY = Policy(
    "t", (Segment("default", first_touch=None, attempts=LADDER, disposition=None),)
)
DISPOSITION_ONLY = Policy(
    "t",
    (Segment("default", first_touch=None, attempts=None, disposition=DispositionRule(48 * HOUR)),),
)


def handed(at: int, owner: str = "ana", eid: str = "h1") -> HandedToSales:
    return HandedToSales(eid, "L", at, owner=owner, team="smb-east")


def tries(*days: float, connected_last: bool = False) -> list[ContactAttempt]:
    out = []
    for i, day in enumerate(days):
        outcome = Outcome.CONNECTED if connected_last and i == len(days) - 1 else Outcome.NO_ANSWER
        out.append(ContactAttempt(f"a{i}", "L", T0 + int(day * DAY), Channel.CALL, outcome))
    return out


def lead(events: list[Event]) -> LeadState:
    state = LeadState("L")
    for event in events:
        state.add(event)
    return state


def breaches(state: LeadState, policy: Policy, now: int) -> list[SlaViolation]:
    return [
        e
        for e in state.take_due(policy, now)
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    ]


@pytest.mark.parametrize(
    ("events", "now", "expected_deadline_days"),
    [
        ([handed(T0), *tries(1, 3, 7)], T0 + 15 * DAY, None),
        ([handed(T0), *tries(1, 3)], T0 + 15 * DAY, 14),
        ([handed(T0), *tries(1, 3, 7, 20)], T0 + 30 * DAY, 28),
        ([handed(T0), *tries(1, 3, 7, 20, 25, 30, 40)], T0 + 60 * DAY, None),
        ([handed(T0), *tries(1, 2, connected_last=True)], T0 + 60 * DAY, None),
        ([handed(T0), *tries(1, 1.01, 1.02)], T0 + 15 * DAY, 14),
        (
            [handed(T0), *tries(1), LeadStatusChanged("s", "L", T0 + 2 * DAY, LeadStatus.RECYCLED)],
            T0 + 60 * DAY,
            None,
        ),
    ],
    ids=[
        "three-in-two-weeks-meets-first-rung",
        "two-in-two-weeks-breaches-at-day-14",
        "four-by-day-28-breaches-second-rung",
        "seven-by-day-56-meets-the-whole-ladder",
        "connection-ends-the-ladder",
        "attempts-an-hour-apart-count-closer-ones-do-not",
        "recycling-stops-the-ladder",
    ],
)
def test_attempt_ladder(events: list[Event], now: int, expected_deadline_days: int | None) -> None:
    found = breaches(lead(events), ATTEMPTS_ONLY, now)
    if expected_deadline_days is None:
        assert found == []
    else:
        [breach] = found
        assert breach.deadline_at == T0 + expected_deadline_days * DAY


def test_attempt_ladder_breaches_once_per_cycle_even_if_later_rungs_are_missed() -> None:
    state = lead([handed(T0), *tries(1)])
    assert len(breaches(state, ATTEMPTS_ONLY, T0 + 15 * DAY)) == 1
    assert breaches(state, ATTEMPTS_ONLY, T0 + 60 * DAY) == []
    assert state.next_deadline(ATTEMPTS_ONLY) is None


def test_attempt_ladder_warns_two_days_before_a_rung_at_risk() -> None:
    state = lead([handed(T0), *tries(1, 3)])
    assert state.next_deadline(ATTEMPTS_ONLY) == T0 + 12 * DAY
    [warning] = state.take_due(ATTEMPTS_ONLY, T0 + 12 * DAY)
    assert isinstance(warning, SlaViolation)
    assert (warning.severity, warning.deadline_at) == (Severity.WARNING, T0 + 14 * DAY)
    assert warning.detail == {"required_attempts": 3, "attempts_by_deadline": 2}


@pytest.mark.parametrize(
    ("status_after_hours", "breached"),
    [(47, False), (48, False), (49, True), (None, True)],
    ids=["47h-met", "exactly-48h-met", "49h-breached", "never-dispositioned-breached"],
)
def test_disposition_within_48_hours(status_after_hours: int | None, breached: bool) -> None:
    events: list[Event] = [handed(T0)]
    if status_after_hours is not None:
        events.append(
            LeadStatusChanged("s", "L", T0 + status_after_hours * HOUR, LeadStatus.ACCEPTED)
        )
    assert bool(breaches(lead(events), DISPOSITION_ONLY, T0 + 5 * DAY)) is breached


@pytest.mark.parametrize(
    ("mode", "deadline"),
    [(Reassignment.KEEP, T0 + HOUR), (Reassignment.RESTART, T0 + 40 * 60_000 + HOUR)],
    ids=["keep-the-original-clock", "restart-for-the-new-rep"],
)
def test_reassignment_before_first_touch(mode: Reassignment, deadline: int) -> None:
    policy = Policy(
        "t",
        (
            Segment(
                "d",
                first_touch=FirstTouchRule(HOUR, warn=NO_WARNING),
                attempts=None,
                disposition=None,
            ),
        ),
        reassignment=mode,
    )
    state = lead([handed(T0), handed(T0 + 40 * 60_000, owner="ben", eid="h2")])
    [breach] = breaches(state, policy, T0 + 3 * HOUR)
    assert (breach.deadline_at, breach.owner) == (deadline, "ben")


def test_segments_pick_targets_first_match_wins() -> None:
    enterprise = Segment(
        "enterprise",
        match=(("tier", frozenset({"enterprise"})),),
        first_touch=FirstTouchRule(4 * HOUR, warn=NO_WARNING),
        attempts=None,
        disposition=None,
    )
    default = Segment(
        "default",
        first_touch=FirstTouchRule(HOUR, warn=NO_WARNING),
        attempts=None,
        disposition=None,
    )
    policy = Policy("t", (enterprise, default))
    big = lead([LeadCreated("c", "L", T0, "web_form", tier="enterprise"), handed(T0)])
    small = lead([LeadCreated("c", "L", T0, "web_form", tier="smb"), handed(T0)])
    assert big.next_deadline(policy) == T0 + 4 * HOUR
    assert small.next_deadline(policy) == T0 + HOUR
    [breach] = breaches(big, policy, T0 + 5 * HOUR)
    assert breach.policy_segment == "enterprise"


def test_met_rules_settle_once_and_earn_points() -> None:
    policy = Policy(
        "t",
        (
            Segment(
                "d",
                first_touch=FirstTouchRule(HOUR),
                attempts=None,
                disposition=DispositionRule(48 * HOUR),
            ),
        ),
    )
    state = lead(
        [handed(T0), *tries(0.01), LeadStatusChanged("s", "L", T0 + DAY, LeadStatus.QUALIFIED)]
    )
    settled = [e for e in state.take_measures(policy) if isinstance(e, RuleSettled)]
    assert sorted((e.rule.value, e.outcome) for e in settled) == [
        ("disposition", Settlement.MET),
        ("first_touch", Settlement.MET),
    ]
    assert [e for e in state.take_measures(policy) if isinstance(e, RuleSettled)] == []


def test_closing_before_a_deadline_settles_as_stopped_not_met() -> None:
    policy = Policy(
        "t", (Segment("d", first_touch=FirstTouchRule(HOUR), attempts=None, disposition=None),)
    )
    state = lead([handed(T0), LeadStatusChanged("s", "L", T0 + 600_000, LeadStatus.DISQUALIFIED)])
    [settled] = [e for e in state.take_measures(policy) if isinstance(e, RuleSettled)]
    assert settled.outcome is Settlement.STOPPED


def test_an_environment_override_keeps_switched_off_first_touch_rules_off() -> None:
    policy = Policy("t", (Segment("d", first_touch=None, attempts=None, disposition=None),))
    assert policy.with_first_touch(HOUR, 0.5).segments[0].first_touch is None
