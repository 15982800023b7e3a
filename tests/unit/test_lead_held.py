"""A lead held decoded across events and deadline checks (as the engine holds a changed lead
until the flush) decides what a lead decoded afresh from its row decides, step by step: so
nothing kept on the decoded object (today the facts and ``emitted``; any memo of cycles or
checkpoints added for speed) can show in effects or rows."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sla.sla.availability import Absence, Availability
from stream_sla.sla.events import Event, HandedToSales
from stream_sla.sla.lead import Assessment, LeadState
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import dump_state, load_state
from tests.unit.test_lead_order_independence import (
    LADDER_END,
    MIN,
    POLICIES,
    POLICY,
    drawn_arrivals,
    full_lead_events,
    people,
)

DAY_MS = 24 * 60 * MIN
CLOSED_MS, IDLE_MS = 7 * DAY_MS, 90 * DAY_MS


def assess(
    state: LeadState, policy: Policy, now: int | None, seen_at: int | None, people: Availability
) -> Assessment:
    return state.take_assessment(policy, now, CLOSED_MS, IDLE_MS, seen_at, people)


def step(
    held: LeadState,
    row: bytes,
    policy: Policy,
    people: Availability,
    event: Event | None,
    now: int | None,
    seen_at: int | None = None,
) -> bytes:
    """Apply one event (or a deadline check at ``now``) to the held lead and to one decoded
    from ``row``; both must answer alike and leave the same row. Returns that row."""
    fresh = load_state("L", row)
    if event is not None:
        assert held.add_fact(event) is fresh.add_fact(event)
    kept, decoded = (assess(s, policy, now, seen_at, people) for s in (held, fresh))
    assert kept == decoded
    assert held.checkpoints(policy, availability=people) == fresh.checkpoints(
        policy, availability=people
    )
    assert held.cycles() == fresh.cycles()
    row = dump_state(held, kept.wake_at, kept.summary)
    assert row == dump_state(fresh, decoded.wake_at, decoded.summary)
    return row


@settings(max_examples=300, deadline=timedelta(seconds=5))  # explicit: a loaded 2-core machine
@given(events=full_lead_events(), data=st.data())
def test_a_held_lead_decides_as_a_lead_decoded_from_its_row_at_every_step(
    events: list[Event], data: st.DataObject
) -> None:
    policy, arrivals = drawn_arrivals(events, data)
    checks = sorted(data.draw(st.lists(st.integers(0, arrivals[-1][0] + LADDER_END), max_size=6)))
    # an absence recorded before some deadline check: a lead held across it (no fact changed)
    # must see it, as a lead decoded afresh does
    absent_before = data.draw(st.sampled_from([None, *range(len(checks))]))
    availability = people()
    held = LeadState("L")
    row = dump_state(held)
    timeline = sorted(
        [(at, 1, n, e) for n, (at, e) in enumerate(arrivals)]
        + [(now, 0, n, None) for n, now in enumerate(checks)],
        key=lambda item: item[:3],
    )
    for at, _, n, event in timeline:
        if event is not None:
            row = step(held, row, policy, availability, event, None, seen_at=at)
            continue
        if n == absent_before:
            availability.apply(Absence("x", "pto", "ana", at - DAY_MS, at + DAY_MS, 0, 0))
        row = step(held, row, policy, availability, None, at)
        row = step(held, row, policy, availability, None, at)  # again: nothing new


def test_a_held_lead_follows_folded_handoffs_as_a_decoded_one() -> None:
    """Past the per-lead limits, folding drops facts: nothing derived may outlive them."""
    availability = Availability()
    held = LeadState("L")
    row = dump_state(held)
    for n in range(45):
        owner = "ana" if n % 2 else "ben"
        handed = HandedToSales(f"h{n}", "L", (45 - n) * 10 * MIN, owner, "t")
        row = step(held, row, POLICIES["reassignment-restart"], availability, handed, None)
        row = step(held, row, POLICY, availability, None, (n + 1) * 60 * MIN)
