"""Owner-segmented time: a lead re-assigned inside a cycle charges each owner their share."""

from __future__ import annotations

from datetime import datetime, time

from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sla.metrics import Metrics
from stream_sla.replay import replay
from stream_sla.sinks import PrometheusSink
from stream_sla.sla.calendar import Calendar
from stream_sla.sla.effects import BreachRetracted, RetractReason, Severity, SlaViolation
from stream_sla.sla.events import Event, HandedToSales
from stream_sla.sla.policy import NO_WARNING, FirstTouchRule, Policy, Segment
from stream_sla.sla.rollups import Rollup

MIN = 60_000
HOUR = 60 * MIN
NY_9_TO_5 = Calendar("ny", "America/New_York", {d: ((time(9), time(17)),) for d in range(5)})


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def policy(calendar: Calendar | None = None) -> Policy:
    rule = FirstTouchRule(HOUR, warn=NO_WARNING)
    if calendar is not None:
        rule = FirstTouchRule(HOUR, calendar, NO_WARNING)
    return Policy("t", (Segment("default", first_touch=rule, attempts=None, disposition=None),))


def breach_of(events: list[Event], rules: Policy) -> SlaViolation:
    result = replay(events, rules, events[-1].occurred_at + 10 * 24 * HOUR, keep_effects=True)
    [found] = [
        e for e in result.effects if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    ]
    return found


def test_a_breach_after_a_reassignment_names_each_owners_time_and_counts_for_the_last() -> None:
    events: list[Event] = [
        HandedToSales("h1", "L", at("2026-11-03T09:00:00+00:00"), "ana", "t"),
        HandedToSales("h2", "L", at("2026-11-03T09:40:00+00:00"), "bob", "t"),
    ]
    breach = breach_of(events, policy())
    assert breach.owner == "bob"
    assert breach.to_record()["owners"] == [
        {
            "owner": "ana",
            "from": "2026-11-03T09:00:00.000Z",
            "to": "2026-11-03T09:40:00.000Z",
            "business_seconds": 2400.0,
        },
        {
            "owner": "bob",
            "from": "2026-11-03T09:40:00.000Z",
            "to": "2026-11-03T10:00:00.000Z",
            "business_seconds": 1200.0,
        },
    ]
    assert breach.shares() == {"ana": 2 / 3, "bob": 1 / 3}


def test_shares_count_business_time_across_the_dst_weekend() -> None:
    # NY 09:00-17:00. Ana gets the lead Fri 30 Oct 16:30 EDT (20:30Z): 30 min that day; New
    # York leaves summer time on Sunday; Bob takes it Mon 2 Nov 09:10 EST (14:10Z): Ana held
    # 10 more minutes, the last 20 are Bob's -> deadline Mon 09:30 EST (14:30Z).
    events: list[Event] = [
        HandedToSales("h1", "L", at("2026-10-30T20:30:00+00:00"), "ana", "t"),
        HandedToSales("h2", "L", at("2026-11-02T14:10:00+00:00"), "bob", "t"),
    ]
    breach = breach_of(events, policy(NY_9_TO_5))
    assert breach.deadline_at == at("2026-11-02T14:30:00+00:00")
    assert [(o.owner, o.business_ms) for o in breach.owners] == [
        ("ana", 40 * MIN),
        ("bob", 20 * MIN),
    ]


def test_a_single_owner_record_has_no_split_and_takes_the_breach_whole() -> None:
    breach = breach_of([HandedToSales("h1", "L", 0, "ana", "t")], policy())
    assert "owners" not in breach.to_record()
    assert breach.shares() == {"ana": 1.0}


def test_the_report_and_the_rep_metric_charge_each_owner_their_share() -> None:
    events: list[Event] = [
        HandedToSales("h1", "L", at("2026-11-03T09:00:00+00:00"), "ana", "t"),
        HandedToSales("h2", "L", at("2026-11-03T09:40:00+00:00"), "bob", "t"),
    ]
    breach = breach_of(events, policy())
    rollup = Rollup()
    rollup.add(breach)
    assert dict(rollup.breach_share_by_rep) == {"ana": 2 / 3, "bob": 1 / 3}
    metrics = Metrics()
    sink = PrometheusSink(metrics)
    sink.take(breach)
    charged = {
        s.labels["rep"]: s.value
        for family in metrics.rep_breach_share.collect()
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert charged == {metrics.rep("ana"): 2 / 3, metrics.rep("bob"): 1 / 3}
    rollup.add(
        BreachRetracted(
            "r", breach.id, breach.rule, "L", breach.cycle_started_at, RetractReason.MET_LATE, 0
        )
    )
    assert {rep: share for rep, share in rollup.breach_share_by_rep.items() if share} == {}


@settings(max_examples=80, deadline=None)
@given(
    start=st.integers(0, 7 * 24 * 60),
    handovers=st.lists(st.integers(1, 30 * 60), min_size=1, max_size=4),
)
def test_the_owners_business_time_adds_up_to_the_clock_from_hand_off_to_deadline(
    start: int, handovers: list[int]
) -> None:
    base = at("2026-10-26T00:00:00+00:00") + start * MIN
    events: list[Event] = [HandedToSales("h0", "L", base, "o0", "t")]
    moment = base
    for n, gap in enumerate(handovers, 1):
        moment += gap * MIN
        events.append(HandedToSales(f"h{n}", "L", moment, f"o{n}", "t"))
    breach = breach_of(events, policy(NY_9_TO_5))
    held = sum(o.business_ms for o in breach.owners)
    if breach.owners:
        assert held == HOUR  # the whole target, split
        assert abs(sum(breach.shares().values()) - 1.0) < 1e-9
