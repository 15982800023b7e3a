"""Qualifying touches: only the attempts a rule's policy counts satisfy it; the rest are kept
and reported on its records."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import orjson
import pytest

from stream_sla.policy_file import load_policy
from stream_sla.replay import replay
from stream_sla.sla.calendar import Calendar
from stream_sla.sla.effects import RuleSettled, Settlement, Severity, SlaViolation
from stream_sla.sla.events import (
    Channel,
    ContactAttempt,
    Event,
    EventKind,
    EventRejected,
    HandedToSales,
    Outcome,
    event_from_object,
)
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import (
    NO_WARNING,
    AttemptsRule,
    FirstTouchRule,
    Policy,
    Rung,
    Segment,
    Touches,
)
from stream_sla.sla.snapshot import dump_state, load_state
from stream_sla.yamlfile import ConfigError

from .policy_texts import one_segment

SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR
CALLS_OVER_30S = Touches(channels=frozenset({"call", "meeting"}), min_call_ms=30 * SEC)


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def first_touch_only(rule: FirstTouchRule) -> Policy:
    return Policy("t", (Segment("default", first_touch=rule, attempts=None, disposition=None),))


def attempt(
    eid: str,
    when: int,
    channel: Channel = Channel.CALL,
    outcome: Outcome = Outcome.NO_ANSWER,
    automated: bool = False,
    duration_ms: int | None = None,
) -> ContactAttempt:
    return ContactAttempt(eid, "L", when, channel, outcome, "ana", automated, duration_ms)


def breaches(events: list[Event], policy: Policy, end: int) -> list[SlaViolation]:
    result = replay(sorted(events, key=lambda e: e.occurred_at), policy, end, keep_effects=True)
    return [
        e for e in result.effects if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    ]


def test_an_automated_sequence_email_does_not_count_as_the_first_touch() -> None:
    events: list[Event] = [
        HandedToSales("h", "L", 0, "ana", "t"),
        attempt("a1", 10 * MIN, Channel.EMAIL, Outcome.SENT, automated=True),
    ]
    [breach] = breaches(events, first_touch_only(FirstTouchRule(warn=NO_WARNING)), DAY)
    assert breach.deadline_at == HOUR
    assert breach.detail == {"non_qualifying_attempts": 1}


def test_a_rep_attempt_after_an_automated_one_meets_the_first_touch() -> None:
    state = LeadState("L")
    policy = first_touch_only(FirstTouchRule(warn=NO_WARNING))
    for event in (
        HandedToSales("h", "L", 0, "ana", "t"),
        attempt("a1", 10 * MIN, Channel.EMAIL, Outcome.SENT, automated=True),
        attempt("a2", 20 * MIN, Channel.EMAIL, Outcome.SENT),
    ):
        state.add(event)
    settled = [e for e in state.take_measures(policy) if isinstance(e, RuleSettled)]
    assert [s.outcome for s in settled] == [Settlement.MET]
    assert state.take_due(policy, DAY) == []


def test_calls_shorter_than_the_minimum_and_other_channels_do_not_count() -> None:
    # email at 5m, a 10 s call at 10m: neither counts; a 45 s call at 50m does
    policy = first_touch_only(FirstTouchRule(warn=NO_WARNING, touches=CALLS_OVER_30S))
    state = LeadState("L")
    for event in (
        HandedToSales("h", "L", 0, "ana", "t"),
        attempt("a1", 5 * MIN, Channel.EMAIL, Outcome.SENT),
        attempt("a2", 10 * MIN, duration_ms=10 * SEC),
        attempt("a3", 50 * MIN, outcome=Outcome.CONNECTED, duration_ms=45 * SEC),
    ):
        state.add(event)
    assert state.take_due(policy, DAY) == []
    # without the 45 s call, the breach reports the two attempts kept but not counted
    events: list[Event] = [
        HandedToSales("h", "L", 0, "ana", "t"),
        attempt("a1", 5 * MIN, Channel.EMAIL, Outcome.SENT),
        attempt("a2", 10 * MIN, duration_ms=10 * SEC),
        attempt("a4", 2 * HOUR, duration_ms=None),  # unknown length: not proven long enough
    ]
    [breach] = breaches(events, policy, DAY)
    assert (breach.deadline_at, breach.detail) == (HOUR, {"non_qualifying_attempts": 2})


def test_the_ladder_counts_only_the_outcomes_the_policy_lists() -> None:
    # 2 attempts within 1 day, only calls answered or not (an email "sent" does not count)
    rule = AttemptsRule(
        ladder=(Rung(2, DAY),),
        warn=NO_WARNING,
        touches=Touches(outcomes=frozenset({"no_answer", "voicemail", "connected"})),
    )
    policy = Policy("t", (Segment("default", first_touch=None, attempts=rule, disposition=None),))
    events: list[Event] = [
        HandedToSales("h", "L", 0, "ana", "t"),
        attempt("a1", HOUR, outcome=Outcome.VOICEMAIL),
        attempt("a2", 2 * HOUR, Channel.EMAIL, Outcome.SENT),
    ]
    [breach] = breaches(events, policy, 3 * DAY)
    assert breach.detail == {
        "required_attempts": 2,
        "attempts_by_deadline": 1,
        "non_qualifying_attempts": 1,
    }


def test_only_qualifying_touches_across_the_dst_weekend() -> None:
    # New York 09:00-17:00 Mon-Fri, 2h. Handed Fri 30 Oct 16:00 EDT (20:00Z): 1h runs Friday,
    # the second hour Mon 2 Nov 09:00-10:00 EST (14:00Z-15:00Z, after the DST change). An
    # automated email on Friday does not count; the rep's call at 10:30 EST (15:30Z) is late.
    ny = Calendar("ny", "America/New_York", {d: ((time(9), time(17)),) for d in range(5)})
    policy = first_touch_only(FirstTouchRule(2 * HOUR, ny, NO_WARNING))
    events: list[Event] = [
        HandedToSales("h", "L", at("2026-10-30T20:00:00+00:00"), "ana", "t"),
        attempt("a1", at("2026-10-30T20:10:00+00:00"), Channel.EMAIL, Outcome.SENT, True),
        attempt("a2", at("2026-11-02T15:30:00+00:00"), duration_ms=60 * SEC),
    ]
    [breach] = breaches(events, policy, at("2026-11-04T00:00:00+00:00"))
    assert breach.deadline_at == at("2026-11-02T15:00:00+00:00")
    assert breach.detail == {"non_qualifying_attempts": 1}


def test_attempt_events_carry_the_automated_flag_and_the_call_length() -> None:
    body = {
        "event_id": "a",
        "lead_id": "L",
        "occurred_at": "2026-11-02T14:00:00Z",
        "channel": "call",
        "outcome": "connected",
        "automated": False,
        "duration_seconds": 42.5,
    }
    event = event_from_object(EventKind.CONTACT_ATTEMPT, b"L", body)
    assert isinstance(event, ContactAttempt)
    assert (event.automated, event.duration_ms) == (False, 42_500)
    for field, bad in (("automated", "yes"), ("duration_seconds", -1)):
        with pytest.raises(EventRejected, match=field):
            event_from_object(EventKind.CONTACT_ATTEMPT, b"L", {**body, field: bad})
    plain = event_from_object(EventKind.CONTACT_ATTEMPT, b"L", orjson.loads(orjson.dumps(body)))
    assert plain == event


def test_the_policy_file_says_what_counts_as_a_touch(tmp_path: Path) -> None:
    path = one_segment(
        tmp_path,
        "first_touch: {within: 1h, touches: {channels: [call], min_call_duration: 30s}}",
        "attempts: {touches: {outcomes: [no_answer, connected], automated: true}}",
    )
    [segment] = load_policy(path).segments
    assert segment.first_touch is not None and segment.attempts is not None
    assert segment.first_touch.touches == Touches(frozenset({"call"}), None, 30 * SEC, False)
    assert segment.attempts.touches == Touches(None, frozenset({"no_answer", "connected"}), 0, True)


def test_an_unknown_channel_in_touches_is_refused_at_its_line(tmp_path: Path) -> None:
    path = one_segment(tmp_path, "first_touch: {touches: {channels: [call, fax]}}")
    with pytest.raises(ConfigError) as raised:
        load_policy(path)
    message = str(raised.value).replace(f"{tmp_path}/", "")
    assert message == (
        "policy.yaml:4: segments[0].first_touch.touches.channels[1]: 'fax':"
        " Input should be 'call', 'email', 'sms', 'social' or 'meeting'"
    )


def test_the_kept_state_remembers_what_makes_an_attempt_qualify() -> None:
    state = LeadState("L")
    state.add(HandedToSales("h", "L", 0, "ana", "t"))
    state.add(attempt("a1", MIN, Channel.EMAIL, Outcome.SENT, automated=True))
    state.add(attempt("a2", 2 * MIN, duration_ms=12_000))
    loaded = load_state("L", dump_state(state))
    assert loaded.attempts == state.attempts
    assert [(a.automated, a.duration_ms) for a in loaded.attempts] == [
        (True, None),
        (False, 12_000),
    ]
