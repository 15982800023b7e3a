"""Pause on status: a rule's clock stands still while the lead waits on the prospect."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import pytest

from stream_sla.policy_file import load_policy
from stream_sla.replay import replay
from stream_sla.sla.calendar import Calendar
from stream_sla.sla.effects import (
    BreachRetracted,
    RetractReason,
    RuleSettled,
    Settlement,
    Severity,
    SlaViolation,
)
from stream_sla.sla.events import (
    Channel,
    ContactAttempt,
    Event,
    HandedToSales,
    LeadStatus,
    LeadStatusChanged,
    Outcome,
)
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import NO_WARNING, DispositionRule, FirstTouchRule, Policy, Segment
from stream_sla.yamlfile import ConfigError

from .policy_texts import one_segment

MIN = 60_000
HOUR = 60 * MIN
WAITING = frozenset({LeadStatus.WAITING_ON_PROSPECT.value, LeadStatus.MEETING_BOOKED.value})


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def first_touch_policy(calendar: Calendar | None = None, within_ms: int = HOUR) -> Policy:
    rule = FirstTouchRule(within_ms=within_ms, warn=NO_WARNING, pause_on=WAITING)
    if calendar is not None:
        rule = FirstTouchRule(within_ms, calendar, NO_WARNING, pause_on=WAITING)
    return Policy("t", (Segment("default", first_touch=rule, attempts=None, disposition=None),))


def status(eid: str, when: int, value: LeadStatus) -> LeadStatusChanged:
    return LeadStatusChanged(eid, "L", when, value)


def breaches(events: list[Event], policy: Policy, end: int) -> list[SlaViolation]:
    result = replay(sorted(events, key=lambda e: e.occurred_at), policy, end, keep_effects=True)
    return [
        e for e in result.effects if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    ]


def test_time_waiting_on_the_prospect_does_not_count_and_is_reported_on_the_breach() -> None:
    # 1h target from 09:00; waiting 09:20-10:00 (40 min) -> deadline 10:40, not 10:00
    events: list[Event] = [
        HandedToSales("h", "L", at("2026-11-03T09:00:00+00:00"), "ana", "t"),
        status("s1", at("2026-11-03T09:20:00+00:00"), LeadStatus.WAITING_ON_PROSPECT),
        status("s2", at("2026-11-03T10:00:00+00:00"), LeadStatus.ACCEPTED),
    ]
    [breach] = breaches(events, first_touch_policy(), at("2026-11-04T00:00:00+00:00"))
    assert breach.deadline_at == at("2026-11-03T10:40:00+00:00")
    assert breach.to_record()["paused_seconds"] == 40 * 60


def test_a_pause_across_the_dst_weekend_resumes_on_local_business_hours() -> None:
    # New York 09:00-17:00 Mon-Fri; 2h target. Handed Fri 30 Oct 16:00 EDT (20:00Z), 30 min run,
    # waiting from 16:30 EDT; accepted Mon 2 Nov 10:00 EST (15:00Z, after the DST change):
    # 1h30 left -> 11:30 EST = 16:30Z. Paused wall time: 20:30Z Fri to 15:00Z Mon = 66h30.
    ny = Calendar("ny", "America/New_York", {d: ((time(9), time(17)),) for d in range(5)})
    events: list[Event] = [
        HandedToSales("h", "L", at("2026-10-30T20:00:00+00:00"), "ana", "t"),
        status("s1", at("2026-10-30T20:30:00+00:00"), LeadStatus.WAITING_ON_PROSPECT),
        status("s2", at("2026-11-02T15:00:00+00:00"), LeadStatus.ACCEPTED),
    ]
    policy = first_touch_policy(ny, within_ms=2 * HOUR)
    [breach] = breaches(events, policy, at("2026-11-05T00:00:00+00:00"))
    assert breach.deadline_at == at("2026-11-02T16:30:00+00:00")
    assert breach.to_record()["paused_seconds"] == (66 * 60 + 30) * 60
    # without the pause the deadline is Mon 10:00 EST, 15:00Z
    unpaused = Policy(
        "t",
        (
            Segment(
                "default",
                first_touch=FirstTouchRule(2 * HOUR, ny, NO_WARNING),
                attempts=None,
                disposition=None,
            ),
        ),
    )
    [plain] = breaches(events, unpaused, at("2026-11-05T00:00:00+00:00"))
    assert plain.deadline_at == at("2026-11-02T15:00:00+00:00")
    assert "paused_seconds" not in plain.to_record()


def test_a_lead_still_waiting_has_no_deadline_and_no_breach() -> None:
    state = LeadState("L")
    state.add(HandedToSales("h", "L", 0, "ana", "t"))
    state.add(status("s1", 10 * MIN, LeadStatus.MEETING_BOOKED))
    policy = first_touch_policy()
    assert state.next_deadline(policy) is None
    assert state.take_due(policy, 1000 * HOUR) == []


def test_moving_between_two_pausing_statuses_keeps_the_clock_stopped() -> None:
    # waiting 10m..meeting booked 30m..accepted 50m: one pause of 40 min -> deadline 1h40
    events: list[Event] = [
        HandedToSales("h", "L", 0, "ana", "t"),
        status("s1", 10 * MIN, LeadStatus.WAITING_ON_PROSPECT),
        status("s2", 30 * MIN, LeadStatus.MEETING_BOOKED),
        status("s3", 50 * MIN, LeadStatus.ACCEPTED),
    ]
    [breach] = breaches(events, first_touch_policy(), 10 * HOUR)
    assert breach.deadline_at == 100 * MIN
    assert breach.detail["paused_seconds"] == 40 * 60


def test_a_late_pausing_status_retracts_a_breach_it_shows_was_not_deserved() -> None:
    state = LeadState("L")
    policy = first_touch_policy()
    state.add(HandedToSales("h", "L", 0, "ana", "t"))
    [breach] = state.take_due(policy, 2 * HOUR)
    state.add(status("s1", 30 * MIN, LeadStatus.WAITING_ON_PROSPECT))
    [retraction] = state.take_verdicts(policy, None, seen_at=2 * HOUR + MIN)[0]
    assert isinstance(retraction, BreachRetracted)
    assert (retraction.retracts, retraction.reason) == (breach.id, RetractReason.PAUSED_LATE)


def test_a_rule_met_after_a_pause_reports_the_time_paused() -> None:
    policy = Policy(
        "t",
        (
            Segment(
                "default",
                first_touch=None,
                attempts=None,
                disposition=DispositionRule(HOUR, warn=NO_WARNING, pause_on=WAITING),
            ),
        ),
    )
    state = LeadState("L")
    state.add(HandedToSales("h", "L", 0, "ana", "t"))
    state.add(ContactAttempt("a", "L", 5 * MIN, Channel.EMAIL, Outcome.SENT))
    state.add(status("s1", 20 * MIN, LeadStatus.WAITING_ON_PROSPECT))
    settled = [e for e in state.take_measures(policy) if isinstance(e, RuleSettled)]
    # the waiting status is itself the disposition: kept at 20 min, no time paused before it
    assert [(s.outcome, s.paused_seconds) for s in settled] == [(Settlement.MET, 0.0)]


def test_first_touch_met_after_a_pause_reports_the_time_paused() -> None:
    state = LeadState("L")
    policy = first_touch_policy()
    state.add(HandedToSales("h", "L", 0, "ana", "t"))
    state.add(status("s1", 10 * MIN, LeadStatus.WAITING_ON_PROSPECT))
    state.add(status("s2", 70 * MIN, LeadStatus.ACCEPTED))
    state.add(ContactAttempt("a", "L", 80 * MIN, Channel.CALL, Outcome.CONNECTED))
    settled = [e for e in state.take_measures(policy) if isinstance(e, RuleSettled)]
    assert [(s.outcome, s.paused_seconds) for s in settled] == [(Settlement.MET, 3600.0)]
    assert state.take_due(policy, 10 * HOUR) == []


def test_the_policy_file_lists_the_statuses_a_rule_pauses_on(tmp_path: Path) -> None:
    path = one_segment(
        tmp_path,
        "first_touch: {within: 1h, pause_on: [waiting_on_prospect, meeting_booked]}",
        "disposition: {within: 48h, pause_on: meeting_booked}",
    )
    [segment] = load_policy(path).segments
    assert segment.first_touch is not None and segment.first_touch.pause_on == WAITING
    assert segment.disposition is not None
    assert segment.disposition.pause_on == {"meeting_booked"}
    assert segment.attempts is not None and segment.attempts.pause_on == frozenset()


@pytest.mark.parametrize(
    ("listed", "where"),
    [
        ("[waiting, accepted]", "segments[0].first_touch.pause_on[0]"),
        ("[accepted, won]", "segments[0].first_touch.pause_on[1]"),
    ],
    ids=["unknown-status", "closing-status"],
)
def test_a_status_that_cannot_pause_is_refused_at_its_line(
    tmp_path: Path, listed: str, where: str
) -> None:
    path = one_segment(tmp_path, f"first_touch: {{within: 1h, pause_on: {listed}}}")
    with pytest.raises(ConfigError) as raised:
        load_policy(path)
    message = str(raised.value).replace(f"{tmp_path}/", "")
    assert message.startswith(f"policy.yaml:4: {where}"), message
    assert "is not a status that can pause (use accepted, qualified, waiting_on_prospect" in (
        message
    )
