"""One lead's SLA state: the facts seen so far, and the verdicts they imply at a given ``now``.

The state is a set of facts (hand-offs, attempts, status changes), each keyed by
its event id and kept sorted by event time. Adding a fact is idempotent and
commutative, so duplicates and arrival order cannot change a verdict: only the
events' own times and ``now`` do. What was already published is remembered in
``emitted`` so each warning and breach leaves at most once per hand-off cycle.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from stream_sla.sla.effects import (
    Effect,
    FirstTouchMeasured,
    Rule,
    Severity,
    SlaViolation,
    effect_id,
)
from stream_sla.sla.events import (
    CLOSING_STATUSES,
    ContactAttempt,
    Event,
    HandedToSales,
    LeadCreated,
    LeadStatusChanged,
)
from stream_sla.sla.policy import Policy

MAX_ATTEMPTS_KEPT = 32
"""Attempts beyond this many per lead add nothing to any rule; the cap bounds state size."""


class Profile(NamedTuple):
    at: int
    event_id: str
    source: str
    segment: str | None
    tier: str | None
    region: str | None
    persona: str | None


class Handoff(NamedTuple):
    at: int
    event_id: str
    owner: str
    team: str


class Attempt(NamedTuple):
    at: int
    event_id: str
    channel: str
    outcome: str
    owner: str | None


class StatusChange(NamedTuple):
    at: int
    event_id: str
    status: str
    amount: float | None


class Cycle(NamedTuple):
    """From a hand-off until the lead is closed (disqualified, recycled, won or lost)."""

    started_at: int
    closed_at: int | None
    handoffs: tuple[Handoff, ...]


@dataclass(slots=True)
class LeadState:
    lead_id: str
    profile: Profile | None = None
    handoffs: list[Handoff] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    statuses: list[StatusChange] = field(default_factory=list)
    emitted: set[str] = field(default_factory=set)

    # -- facts ---------------------------------------------------------------

    def add(self, event: Event) -> bool:
        """Record an event's fact; False when it was already known (a duplicate)."""
        if isinstance(event, ContactAttempt):
            attempt = Attempt(
                event.occurred_at, event.event_id, event.channel, event.outcome, event.owner
            )
            return _insert(self.attempts, attempt, cap=MAX_ATTEMPTS_KEPT)
        if isinstance(event, HandedToSales):
            return _insert(
                self.handoffs, Handoff(event.occurred_at, event.event_id, event.owner, event.team)
            )
        if isinstance(event, LeadStatusChanged):
            return _insert(
                self.statuses,
                StatusChange(event.occurred_at, event.event_id, event.status, event.amount),
            )
        assert isinstance(event, LeadCreated)
        profile = Profile(
            event.occurred_at,
            event.event_id,
            event.source,
            event.segment,
            event.tier,
            event.region,
            event.persona,
        )
        if self.profile is not None and self.profile[:2] <= profile[:2]:
            return False
        self.profile = profile
        return True

    def cycles(self) -> list[Cycle]:
        """Hand-off cycles in event time: a closing status ends one, the next hand-off opens one."""
        closings = [s.at for s in self.statuses if s.status in CLOSING_STATUSES]
        cycles: list[Cycle] = []
        current: list[Handoff] = []
        start = 0
        for handoff in self.handoffs:
            if current:
                close = _first_at_or_after(closings, start)
                if close is None or handoff.at < close:
                    current.append(handoff)
                    continue
                cycles.append(Cycle(start, close, tuple(current)))
            current = [handoff]
            start = handoff.at
        if current:
            cycles.append(Cycle(start, _first_at_or_after(closings, start), tuple(current)))
        return cycles

    # -- verdicts ------------------------------------------------------------

    def measures(self) -> list[Effect]:
        """Facts worth recording once they are known (first touch), whatever the clock says."""
        effects: list[Effect] = []
        for cycle in self.cycles():
            self._first_touch_measured(cycle, effects)
        return effects

    def due(self, policy: Policy, now: int) -> list[Effect]:
        """Warnings and breaches due by ``now`` and not yet emitted; marks them emitted.

        Only call with a ``now`` that every event up to it has been applied for:
        the live worker calls it from deadline ticks of caught-up partitions, the
        replay with event time, so an attempt still unread cannot be missed.
        """
        effects: list[Effect] = []
        for cycle in self.cycles():
            self._first_touch(cycle, policy, now, effects)
        return effects

    def next_deadline(self, policy: Policy) -> int | None:
        """The earliest moment at which :meth:`evaluate` could emit something new."""
        earliest: int | None = None
        target = policy.first_touch
        for cycle in self.cycles():
            touch = self._first_attempt(cycle)
            for severity, offset in (
                (Severity.WARNING, target.warn_after_ms),
                (Severity.BREACH, target.within_ms),
            ):
                due = cycle.started_at + offset
                if self._key(Rule.FIRST_TOUCH, severity, cycle) in self.emitted:
                    continue
                if _met_or_stopped(touch, cycle.closed_at, due):
                    continue
                if earliest is None or due < earliest:
                    earliest = due
        return earliest

    def is_awaiting_first_touch(self) -> bool:
        cycles = self.cycles()
        if not cycles:
            return False
        last = cycles[-1]
        return last.closed_at is None and self._first_attempt(last) is None

    # -- rules ---------------------------------------------------------------

    def _first_attempt(self, cycle: Cycle) -> Attempt | None:
        index = bisect.bisect_left(self.attempts, (cycle.started_at,))
        if index < len(self.attempts):
            attempt = self.attempts[index]
            if cycle.closed_at is None or attempt.at < cycle.closed_at:
                return attempt
        return None

    def _first_touch_measured(self, cycle: Cycle, out: list[Effect]) -> None:
        touch = self._first_attempt(cycle)
        if touch is None:
            return
        key = self._key(Rule.FIRST_TOUCH, None, cycle)
        if key in self.emitted:
            return
        self.emitted.add(key)
        owner = _owner_at(cycle, touch.at)
        out.append(
            FirstTouchMeasured(
                self.lead_id,
                team=owner.team,
                owner=owner.owner,
                source=self.profile.source if self.profile else None,
                seconds=(touch.at - cycle.started_at) / 1000,
                handed_at=cycle.started_at,
            )
        )

    def _first_touch(self, cycle: Cycle, policy: Policy, now: int, out: list[Effect]) -> None:
        target = policy.first_touch
        touch = self._first_attempt(cycle)
        deadline = cycle.started_at + target.within_ms
        breach_due = now >= deadline and not _met_or_stopped(touch, cycle.closed_at, deadline)
        for severity, due in (
            (Severity.WARNING, cycle.started_at + target.warn_after_ms),
            (Severity.BREACH, deadline),
        ):
            key = self._key(Rule.FIRST_TOUCH, severity, cycle)
            if now < due or key in self.emitted or _met_or_stopped(touch, cycle.closed_at, due):
                continue
            self.emitted.add(key)
            if severity is Severity.WARNING and (
                breach_due or _met_or_stopped(touch, cycle.closed_at, now)
            ):
                continue  # a reminder is only worth sending while the rep can still act on it
            out.append(
                self._violation(
                    Rule.FIRST_TOUCH, severity, cycle, due, now, target.within_ms, policy
                )
            )

    def _violation(
        self,
        rule: Rule,
        severity: Severity,
        cycle: Cycle,
        due: int,
        now: int,
        target_ms: int,
        policy: Policy,
    ) -> SlaViolation:
        owner = _owner_at(cycle, due)
        profile = self.profile
        return SlaViolation(
            id=effect_id(self.lead_id, rule, severity, cycle.started_at),
            severity=severity,
            rule=rule,
            lead_id=self.lead_id,
            cycle_started_at=cycle.started_at,
            deadline_at=cycle.started_at + target_ms,
            detected_at=max(now, due),
            target_seconds=target_ms / 1000,
            owner=owner.owner,
            team=owner.team,
            source=profile.source if profile else None,
            segment=profile.segment if profile else None,
            policy_version=policy.version,
        )

    @staticmethod
    def _key(rule: Rule, severity: Severity | None, cycle: Cycle) -> str:
        return f"{rule}/{severity or 'measured'}/{cycle.started_at}"


F = TypeVar("F", Handoff, Attempt, StatusChange)


def _insert(facts: list[F], fact: F, cap: int | None = None) -> bool:
    """Keep facts sorted and unique by event id; of two versions of one event, the earlier wins.

    Choosing by value, not by arrival, is what keeps the state order-independent.
    """
    for position, existing in enumerate(facts):
        if existing[1] == fact[1]:
            if existing <= fact:
                return False
            del facts[position]
            break
    index = bisect.bisect_left(facts, fact)
    if cap is not None and index >= cap:
        return False
    facts.insert(index, fact)
    if cap is not None and len(facts) > cap:
        facts.pop()
    return True


def _first_at_or_after(times: list[int], moment: int) -> int | None:
    return min((t for t in times if t >= moment), default=None)


def _met_or_stopped(touch: Attempt | None, closed_at: int | None, due: int) -> bool:
    """The promise was kept by ``due``, or the lead closed before it fell due."""
    if touch is not None and touch.at <= due:
        return True
    return closed_at is not None and closed_at <= due


def _owner_at(cycle: Cycle, moment: int) -> Handoff:
    """The rep who held the lead at ``moment``: re-assignment moves blame, not the clock."""
    owner = cycle.handoffs[0]
    for handoff in cycle.handoffs:
        if handoff.at > moment:
            break
        owner = handoff
    return owner
