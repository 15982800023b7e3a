"""Results depend on event times, never on arrival order or duplicates."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

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
from stream_sla.sla.policy import Policy
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
        sorted(map(repr, state.measures(POLICY) + state.due(POLICY, now))),
        state.next_deadline(POLICY),
        dump_state(state),
    )


@settings(max_examples=300)
@given(events=lead_events(), data=st.data())
def test_any_permutation_with_duplicates_gives_the_same_outcome(
    events: list[Event], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(events))
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(events), max_size=5))
    now = 8 * 60 * MIN
    assert outcome(duplicated, now) == outcome(events, now)


@given(events=lead_events())
def test_state_survives_a_round_trip_through_bytes(events: list[Event]) -> None:
    state = LeadState("L")
    for event in events:
        state.add(event)
    state.due(POLICY, 3 * 60 * MIN)
    assert load_state("L", dump_state(state)) == state
