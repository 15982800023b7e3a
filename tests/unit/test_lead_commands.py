"""The lead's commands say what they changed, so the engine never copies state to find out.

``take_assessment`` reports ``emitted_changed``: the engine writes a lead's row after a
deadline sweep only when it is set. It must be set exactly when ``emitted`` changed (a row
not written loses a mark and a warning goes out twice after a restart; a row written for
nothing costs a changelog record per sweep).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sla.sla.events import Channel, ContactAttempt, Event, HandedToSales, Outcome
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import Policy

from .test_lead_order_independence import (
    DAY,
    LADDER_END,
    POLICIES,
    drawn_arrivals,
    full_lead_events,
)

MIN = 60_000
WEEK = 7 * DAY


def assess(state: LeadState, policy: Policy, now: int | None, seen_at: int | None = None) -> bool:
    before = set(state.emitted)
    assessment = state.take_assessment(policy, now, WEEK, 90 * DAY, seen_at)
    assert assessment.emitted_changed == (state.emitted != before), (before, state.emitted)
    return assessment.emitted_changed


@settings(max_examples=300, deadline=timedelta(seconds=5))  # explicit: a loaded 2-core machine
@given(events=full_lead_events(), data=st.data())
def test_emitted_changed_is_set_exactly_when_emitted_changed(
    events: list[Event], data: st.DataObject
) -> None:
    policy, arrivals = drawn_arrivals(events, data)
    checks = sorted(data.draw(st.lists(st.integers(0, arrivals[-1][0] + LADDER_END), max_size=8)))
    state = LeadState("L")
    for arrived_at, event in arrivals:
        while checks and checks[0] < arrived_at:
            assess(state, policy, checks.pop(0))
        if state.add(event):
            assess(state, policy, None, seen_at=arrived_at)
    for now in checks:
        assess(state, policy, now)
    end = arrivals[-1][0] + LADDER_END + DAY
    assess(state, policy, end)
    assert not assess(state, policy, end)  # asked again: nothing more to mark


def test_a_skipped_warning_changes_emitted_with_no_effect() -> None:
    state = LeadState("L")
    state.add(HandedToSales("h", "L", 0, "ana", "t"))
    state.add(ContactAttempt("a", "L", 50 * MIN, Channel.CALL, Outcome.NO_ANSWER))
    policy = POLICIES["default"]
    measured = state.take_assessment(policy, None, WEEK, 90 * DAY)
    assert measured.effects and measured.emitted_changed  # the touch measured, the rule met
    # the warning (due at 45 min) is looked at after the touch that kept the promise: skipped
    late_look = state.take_assessment(policy, 55 * MIN, WEEK, 90 * DAY)
    assert late_look.effects == []
    assert late_look.emitted_changed
    assert not state.take_assessment(policy, 55 * MIN, WEEK, 90 * DAY).emitted_changed
