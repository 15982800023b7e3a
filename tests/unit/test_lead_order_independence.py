"""Results depend on event times, never on arrival order or duplicates."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sla.replay import KEEP_EVERY_LEAD, replay
from stream_sla.sla.availability import NOBODY_AWAY, Absence, Availability, OwnerAway
from stream_sla.sla.calendar import Calendar
from stream_sla.sla.calling_hours import CallingHours
from stream_sla.sla.effects import BreachRetracted, Effect, Severity, SlaViolation
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
    AttemptsRule,
    DispositionRule,
    FirstTouchRule,
    Policy,
    Reassignment,
    Segment,
    Touches,
)
from stream_sla.sla.snapshot import dump_state, load_state

MIN = 60_000
POLICY = Policy()

times = st.integers(min_value=0, max_value=6 * 60 * MIN)


@st.composite
def lead_events(draw: st.DrawFn) -> list[Event]:
    events: list[Event] = []
    for i in range(draw(st.integers(1, 3))):
        events.append(
            HandedToSales(f"h{i}", "L", draw(times), draw(st.sampled_from(["ana", "ben"])), "t")
        )
    for i in range(draw(st.integers(0, 4))):
        events.append(ContactAttempt(f"a{i}", "L", draw(times), Channel.CALL, Outcome.NO_ANSWER))
    for i in range(draw(st.integers(0, 2))):
        status = draw(st.sampled_from(list(LeadStatus)))
        events.append(LeadStatusChanged(f"s{i}", "L", draw(times), status))
    return events


def outcome(events: list[Event], now: int) -> tuple[object, ...]:
    state = LeadState("L")
    for event in events:
        state.add(event)
    return (
        sorted(map(repr, state.take_measures(POLICY) + state.take_due(POLICY, now))),
        state.next_deadline(POLICY),
        dump_state(state),
    )


@settings(max_examples=300, deadline=timedelta(seconds=5))  # explicit: a loaded 2-core machine
@given(events=lead_events(), data=st.data())
def test_any_permutation_with_duplicates_gives_the_same_outcome(
    events: list[Event], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(events), max_size=5))
    now = 8 * 60 * MIN
    assert outcome(duplicated, now) == outcome(events, now)


@settings(deadline=timedelta(seconds=5))
@given(events=lead_events())
def test_state_survives_a_round_trip_through_bytes(events: list[Event]) -> None:
    state = LeadState("L")
    for event in events:
        state.add(event)
    state.take_due(POLICY, 3 * 60 * MIN)
    assert load_state("L", dump_state(state)) == state


# -- verdicts interleaved with arrivals ------------------------------------------------

DAY = 24 * 60 * MIN
LADDER_END = 56 * DAY
"""The default attempts ladder's last rung: checks run past it."""

moments = st.one_of(
    st.integers(0, 3 * 60).map(lambda m: m * MIN),  # around first touch
    st.integers(0, 3 * 24 * 60).map(lambda m: m * MIN),  # around disposition
    st.integers(0, 60 * 24).map(lambda h: h * 60 * MIN),  # around the attempts ladder
)
delays = st.one_of(
    st.just(0),
    st.integers(0, 120).map(lambda m: m * MIN),
    st.integers(0, 30 * 24).map(lambda h: h * 60 * MIN),  # up to the 30-day lateness limit
)


@st.composite
def full_lead_events(draw: st.DrawFn) -> list[Event]:
    """Lead-created, hand-offs (re-assignments), attempts of every outcome, status changes."""
    events: list[Event] = []
    if draw(st.booleans()):
        source = draw(st.sampled_from(["web_form", "partner"]))
        zone = draw(st.sampled_from([None, "America/Los_Angeles"]))
        events.append(LeadCreated("c0", "L", draw(moments), source=source, timezone=zone))
    for i in range(draw(st.integers(1, 4))):
        owner = draw(st.sampled_from(["ana", "ben", "cy"]))
        events.append(HandedToSales(f"h{i}", "L", draw(moments), owner, "t"))
    for i in range(draw(st.integers(0, 8))):
        outcome = draw(st.sampled_from(list(Outcome)))
        channel = draw(st.sampled_from([Channel.CALL, Channel.EMAIL]))
        automated, seconds = draw(st.booleans()), draw(st.sampled_from([None, 10, 60]))
        events.append(
            ContactAttempt(
                f"a{i}",
                "L",
                draw(moments),
                channel,
                outcome,
                None,
                automated,
                None if seconds is None else seconds * 1000,
            )
        )
    for i in range(draw(st.integers(0, 3))):
        status = draw(st.sampled_from(list(LeadStatus)))
        events.append(LeadStatusChanged(f"s{i}", "L", draw(moments), status))
    return events


PAUSING = frozenset({"waiting_on_prospect", "meeting_booked"})
POLICIES = {
    "default": POLICY,
    "reassignment-restart": replace(POLICY, reassignment=Reassignment.RESTART),
    "pause-on-status": Policy(
        segments=(
            Segment(
                "default",
                first_touch=FirstTouchRule(pause_on=PAUSING),
                attempts=replace(AttemptsRule(), pause_on=PAUSING),
                disposition=DispositionRule(pause_on=frozenset({"meeting_booked"})),
            ),
        )
    ),
    "qualifying-touches": Policy(
        segments=(
            Segment(
                "default",
                first_touch=FirstTouchRule(touches=Touches(min_call_ms=30_000)),
                attempts=replace(
                    AttemptsRule(),
                    touches=Touches(outcomes=frozenset({"no_answer", "voicemail", "connected"})),
                ),
            ),
        )
    ),
    "calling-hours": replace(POLICY, calling_hours=CallingHours()),
    "follow-owner-hours": Policy(
        segments=(
            Segment(
                "default",
                first_touch=FirstTouchRule(owner_away=OwnerAway.FOLLOW_OWNER_HOURS),
                attempts=replace(AttemptsRule(), owner_away=OwnerAway.FOLLOW_OWNER_HOURS),
                disposition=DispositionRule(owner_away=OwnerAway.ESCALATE, grace_ms=30 * MIN),
            ),
        )
    ),
    "segmented": Policy(
        segments=(
            Segment("partners", match=(("source", frozenset({"partner"})),), first_touch=None),
            Segment("default"),
        )
    ),
}
"""The textbook rules; a re-assignment restarting the clock; clocks paused on statuses (a late
status can start or end a pause); a late lead-created that moves the lead into a segment
without first touch; deadlines moved into the lead's calling hours; clocks that follow
the owner's hours and absences, and an escalation (a late hand-off can change the owner)."""


def people() -> Availability:
    """Ana works 09:00-17:00 London on weekdays; Ben is away from 10:00 on day 0 to 16:00 on
    day 1 (recorded in advance); Cy works around the clock."""
    availability = Availability(
        {"ana": Calendar("ana", "Europe/London", {d: ((time(9), time(17)),) for d in range(5)})}
    )
    availability.apply(Absence("e", "pto", "ben", 10 * 60 * MIN, 40 * 60 * MIN, 0, 0))
    return availability


def live_run(
    policy: Policy,
    arrivals: list[tuple[int, Event]],
    checks: list[int],
    end: int,
    availability: Availability = NOBODY_AWAY,
) -> tuple[list[Effect], LeadState]:
    """The worker's use of the core: each event applied on arrival (no clock), verdicts at
    deadline checks taken before the next event arrives, and a last check at ``end``."""
    state = LeadState("L")
    published: list[Effect] = []
    pending = sorted(checks)
    for arrived_at, event in arrivals:
        while pending and pending[0] < arrived_at:
            published += state.take_verdicts(policy, pending.pop(0), availability=availability)[0]
        if state.add(event):
            published += state.take_verdicts(
                policy, None, seen_at=arrived_at, availability=availability
            )[0]
    for now in [*pending, end]:
        published += state.take_verdicts(policy, now, availability=availability)[0]
    return published, state


def effective_breaches(published: list[Effect]) -> dict[str, SlaViolation]:
    """The newest record per breach id decides: a breach in effect, or withdrawn."""
    in_effect: dict[str, SlaViolation | None] = {}
    for effect in published:
        if isinstance(effect, SlaViolation) and effect.severity is Severity.BREACH:
            in_effect[effect.id] = effect
        elif isinstance(effect, BreachRetracted):
            assert in_effect.get(effect.retracts) is not None, "retracted what was not in effect"
            in_effect[effect.retracts] = None
    return {i: v for i, v in in_effect.items() if v is not None}


def drawn_arrivals(
    events: list[Event], data: st.DataObject
) -> tuple[Policy, list[tuple[int, Event]]]:
    """A policy of :data:`POLICIES`, and each event arriving after a delay (within the
    lateness limit), in arrival order."""
    policy = POLICIES[data.draw(st.sampled_from(sorted(POLICIES)))]
    arrivals = [(e.occurred_at + data.draw(delays), e) for e in events]
    return policy, sorted(arrivals, key=lambda pair: pair[0])


@settings(max_examples=400, deadline=timedelta(seconds=5))  # explicit: a loaded 2-core machine
@given(events=full_lead_events(), data=st.data())
def test_effective_breaches_equal_an_event_time_replay_whatever_the_arrival_order(
    events: list[Event], data: st.DataObject
) -> None:
    policy, arrivals = drawn_arrivals(events, data)
    arrivals += [
        (at + data.draw(delays), e)
        for at, e in data.draw(st.lists(st.sampled_from(arrivals), max_size=3))
    ]
    arrivals.sort(key=lambda pair: pair[0])
    checks = data.draw(st.lists(st.integers(0, arrivals[-1][0] + LADDER_END), max_size=8))
    # the replay runs as far as the live checks: a clock on an owner's hours (40 a week) can
    # put a rung's deadline past the ladder's 56 days, where a late check still finds it
    end = max([max(e.occurred_at for e in events) + LADDER_END + DAY, *checks])

    availability = people()
    published, state = live_run(policy, arrivals, checks, end, availability)
    effective = effective_breaches(published)
    # LeadState keeps every fact: compare with a replay that evicts nothing either
    reference = replay(
        sorted(events, key=lambda e: e.occurred_at),
        policy,
        end,
        keep_effects=True,
        retention=KEEP_EVERY_LEAD,
        availability=availability,
    )
    expected = set(effective_breaches(reference.effects))

    # (a) at most one effective breach per rule and cycle, and only for cycles that exist
    starts = {cycle.started_at for cycle in state.cycles()}
    per_cycle = [(v.rule, v.cycle_started_at) for v in effective.values()]
    assert len(per_cycle) == len(set(per_cycle))
    assert {start for _, start in per_cycle} <= starts
    # (b) what an event-time run publishes, for any arrival order within the lateness limit
    assert set(effective) == expected
    # (c) no duplicates: a breach id is published again only after its retraction
    history: dict[str, str] = {}
    for e in published:
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH:
            history[e.id] = history.get(e.id, "") + "B"
        elif isinstance(e, BreachRetracted):
            history[e.retracts] = history.get(e.retracts, "") + "R"
    assert all("BB" not in h and not h.startswith("R") for h in history.values()), history
    retraction_ids = [e.id for e in published if isinstance(e, BreachRetracted)]
    assert len(retraction_ids) == len(set(retraction_ids))
    # warnings: at most one per rule and cycle
    warnings = [
        (e.rule, e.cycle_started_at)
        for e in published
        if isinstance(e, SlaViolation) and e.severity is Severity.WARNING
    ]
    assert len(warnings) == len(set(warnings))
