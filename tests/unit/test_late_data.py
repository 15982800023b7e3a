"""Late data that changes a verdict already published: one effective breach per rule and cycle.

The rule: the breaches a lead deserves are a function of its facts and ``now`` (what an
event-time replay computes); live publishes the difference, retracting a breach that late
facts show is no longer deserved.
"""

from __future__ import annotations

from dataclasses import replace

from stream_sla.replay import replay
from stream_sla.sla.effects import (
    BreachRetracted,
    Effect,
    FirstTouchMeasured,
    RetractReason,
    Rule,
    Severity,
    SlaViolation,
    effect_id,
)
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
from stream_sla.sla.policy import FirstTouchRule, Policy, Reassignment, Segment, WarnAt
from stream_sla.sla.snapshot import dump_state, load_state

MIN = 60_000
HOUR = 60 * MIN
T0 = 1_793_628_000_000  # 2026-11-02T14:00:00Z
FIRST_TOUCH_ONLY = Policy(
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


def handed(at: int, eid: str, owner: str = "ana") -> HandedToSales:
    return HandedToSales(eid, "L-1", at, owner=owner, team="smb-east")


def attempt(at: int, eid: str = "a1") -> ContactAttempt:
    return ContactAttempt(eid, "L-1", at, Channel.CALL, Outcome.VOICEMAIL, owner="ana")


class Live:
    """The worker's use of the core: facts as they arrive (no clock), verdicts at ticks."""

    def __init__(self, policy: Policy = FIRST_TOUCH_ONLY) -> None:
        self.policy = policy
        self.state = LeadState("L-1")
        self.published: list[Effect] = []

    def arrive(self, event: Event, at: int) -> list[Effect]:
        self.state.add(event)
        effects, _ = self.state.take_verdicts(self.policy, None, seen_at=at)
        self.published += effects
        return effects

    def tick(self, now: int) -> list[Effect]:
        effects, _ = self.state.take_verdicts(self.policy, now)
        self.published += effects
        return effects

    def effective_breaches(self) -> set[str]:
        """Consumers' rule: the newest record per breach id decides."""
        live: dict[str, bool] = {}
        for e in self.published:
            if isinstance(e, SlaViolation) and e.severity is Severity.BREACH:
                live[e.id] = True
            elif isinstance(e, BreachRetracted):
                live[e.retracts] = False
        return {breach_id for breach_id, in_effect in live.items() if in_effect}

    def of(self, kind: type) -> list[Effect]:
        return [e for e in self.published if isinstance(e, kind)]


def breach_id(start: int, rule: Rule = Rule.FIRST_TOUCH) -> str:
    return effect_id("L-1", rule, Severity.BREACH, start)


def test_a_late_earlier_handoff_leaves_exactly_one_effective_breach() -> None:
    """The defect of issue 16: a hand-off at T0+10m breached, then the T0 hand-off arrives."""
    live = Live()
    live.arrive(handed(T0 + 10 * MIN, "h-late"), T0 + 10 * MIN)
    live.tick(T0 + 75 * MIN)
    assert live.effective_breaches() == {breach_id(T0 + 10 * MIN)}

    live.arrive(handed(T0, "h-first"), T0 + 80 * MIN)
    [retraction] = live.of(BreachRetracted)
    assert isinstance(retraction, BreachRetracted)
    assert retraction.retracts == breach_id(T0 + 10 * MIN)
    assert retraction.reason is RetractReason.CYCLE_MOVED
    assert retraction.detected_at == T0 + 80 * MIN
    live.tick(T0 + 81 * MIN)
    assert live.effective_breaches() == {breach_id(T0)}
    live.tick(T0 + 3 * HOUR)
    assert live.effective_breaches() == {breach_id(T0)}


def test_warnings_sent_for_a_moved_cycle_are_not_sent_again_nor_retracted() -> None:
    live = Live()
    live.arrive(handed(T0 + 10 * MIN, "h-late"), T0 + 10 * MIN)
    live.tick(T0 + 56 * MIN)  # the warning of the T0+10m cycle (due at T0+55m)
    live.arrive(handed(T0, "h-first"), T0 + 57 * MIN)
    live.tick(T0 + 2 * HOUR)
    assert len(live.of(SlaViolation)) == 2  # one warning, one breach (of the T0 cycle)
    assert [e.severity for e in live.of(SlaViolation)] == [Severity.WARNING, Severity.BREACH]
    assert live.of(BreachRetracted) == []


def test_first_touch_measure_follows_a_moved_cycle_and_is_not_counted_twice() -> None:
    live = Live()
    live.arrive(handed(T0 + 10 * MIN, "h-late"), T0 + 10 * MIN)
    live.arrive(attempt(T0 + 20 * MIN), T0 + 20 * MIN)
    live.arrive(handed(T0, "h-first"), T0 + 21 * MIN)
    live.tick(T0 + 2 * HOUR)
    assert len(live.of(FirstTouchMeasured)) == 1
    assert live.effective_breaches() == set()


def test_a_late_attempt_that_met_the_deadline_retracts_the_breach() -> None:
    live = Live()
    live.arrive(handed(T0, "h1"), T0)
    live.tick(T0 + 61 * MIN)
    assert live.effective_breaches() == {breach_id(T0)}
    live.arrive(attempt(T0 + 59 * MIN), T0 + 62 * MIN)
    [retraction] = live.of(BreachRetracted)
    assert isinstance(retraction, BreachRetracted)
    assert retraction.reason is RetractReason.MET_LATE
    assert live.effective_breaches() == set()


def test_a_late_attempt_after_the_deadline_changes_nothing() -> None:
    live = Live()
    live.arrive(handed(T0, "h1"), T0)
    live.tick(T0 + 61 * MIN)
    live.arrive(attempt(T0 + 61 * MIN), T0 + 62 * MIN)
    assert live.of(BreachRetracted) == []
    assert live.effective_breaches() == {breach_id(T0)}


def test_a_late_closing_status_before_the_deadline_retracts_the_breach() -> None:
    live = Live()
    live.arrive(handed(T0, "h1"), T0)
    live.tick(T0 + 61 * MIN)
    live.arrive(
        LeadStatusChanged("s1", "L-1", T0 + 30 * MIN, LeadStatus.DISQUALIFIED), T0 + 62 * MIN
    )
    [retraction] = live.of(BreachRetracted)
    assert isinstance(retraction, BreachRetracted)
    assert retraction.reason is RetractReason.CLOSED_LATE


def test_a_cycle_split_then_moved_back_gets_a_second_retraction_with_its_own_id() -> None:
    """Hand-offs at T0+10m and T0; a late close between them splits the cycle again."""
    live = Live()
    live.arrive(handed(T0 + 10 * MIN, "h-late"), T0 + 10 * MIN)
    live.tick(T0 + 75 * MIN)
    live.arrive(handed(T0, "h-first"), T0 + 76 * MIN)  # retracts the T0+10m breach
    live.tick(T0 + 77 * MIN)  # breach of the T0 cycle
    closing = LeadStatusChanged("s1", "L-1", T0 + 5 * MIN, LeadStatus.RECYCLED)
    live.arrive(closing, T0 + 78 * MIN)  # T0 cycle closed at T0+5m; T0+10m is a cycle again
    live.tick(T0 + 79 * MIN)
    assert live.effective_breaches() == {breach_id(T0 + 10 * MIN)}
    retractions = live.of(BreachRetracted)
    assert len({r.id for r in retractions}) == len(retractions) == 2


def test_a_late_lead_created_moving_the_lead_out_of_a_rule_retracts_its_breach() -> None:
    policy = Policy(
        version="test-1",
        segments=(
            Segment("partners", match=(("source", frozenset({"partner"})),), first_touch=None),
            Segment("default", first_touch=FirstTouchRule(HOUR), attempts=None, disposition=None),
        ),
    )
    live = Live(policy)
    live.arrive(handed(T0, "h1"), T0)
    live.tick(T0 + 61 * MIN)
    live.arrive(LeadCreated("c1", "L-1", T0 - MIN, source="partner"), T0 + 62 * MIN)
    [retraction] = live.of(BreachRetracted)
    assert isinstance(retraction, BreachRetracted)
    assert retraction.reason is RetractReason.SEGMENT_CHANGED


def test_the_retraction_record_names_the_breach_it_withdraws() -> None:
    live = Live()
    live.arrive(handed(T0 + 10 * MIN, "h-late"), T0 + 10 * MIN)
    live.tick(T0 + 75 * MIN)
    [retraction] = live.arrive(handed(T0, "h-first"), T0 + 80 * MIN)
    assert isinstance(retraction, BreachRetracted)
    assert retraction.to_record() == {
        "id": retraction.id,
        "retracts": breach_id(T0 + 10 * MIN),
        "rule": "first_touch",
        "lead_id": "L-1",
        "handed_at": "2026-11-02T14:10:00.000Z",
        "reason": "cycle_moved",
        "detected_at": "2026-11-02T15:20:00.000Z",
    }


def test_state_written_before_a_retraction_loads_and_retracts_the_same_way() -> None:
    live = Live()
    live.arrive(handed(T0 + 10 * MIN, "h-late"), T0 + 10 * MIN)
    live.tick(T0 + 75 * MIN)
    restored = load_state("L-1", dump_state(live.state))
    restored.add(handed(T0, "h-first"))
    effects, _ = restored.take_verdicts(FIRST_TOUCH_ONLY, None)
    assert [type(e) for e in effects] == [BreachRetracted]


def test_the_report_does_not_count_a_retracted_breach() -> None:
    """Under ``reassignment: restart`` the event-time replay itself can retract: a re-assignment
    before any touch restarts the clock after the first one was missed, and the new rep meets it.
    """
    policy = replace(FIRST_TOUCH_ONLY, reassignment=Reassignment.RESTART)
    events = [
        handed(T0, "h1"),
        handed(T0 + 70 * MIN, "h2", owner="ben"),
        attempt(T0 + 80 * MIN),
    ]
    result = replay(events, policy, until=T0 + 3 * HOUR, keep_effects=True)
    assert [type(e) for e in result.effects if isinstance(e, SlaViolation | BreachRetracted)] == [
        SlaViolation,  # warning at T0+45m
        SlaViolation,  # breach at T0+60m
        BreachRetracted,  # h2 restarted the clock; met at T0+80m
    ]
    tally = result.rollup.rules[Rule.FIRST_TOUCH]
    assert (tally.breached, tally.met) == (0, 1)
