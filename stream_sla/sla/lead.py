"""One lead's SLA state: the facts seen so far, and the verdicts they imply at a given ``now``.

The state is a set of facts (hand-offs, attempts, status changes), each keyed by
its event id and kept sorted by event time. Adding a fact is idempotent and
commutative, so duplicates and arrival order cannot change a verdict: only the
events' own times and ``now`` do. What was already published is remembered in
``emitted`` so each warning and breach leaves at most once per hand-off cycle.

Late data: the breaches a lead deserves are a function of its facts and ``now``,
exactly what a replay in event-time order computes. When a late event shows that a
published breach is no longer deserved (its cycle's start moved, or the promise was
kept or became moot in time), :meth:`LeadState._reconcile` retracts it; the breach
the changed cycle deserves, if any, is then published under its own id. Warnings and
measures are not verdicts: what was sent for a cycle follows the cycle when its start
moves, and is never sent twice or retracted.
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, NamedTuple, TypeVar

from stream_sla.sla import rules
from stream_sla.sla.availability import (
    NOBODY_AWAY,
    Availability,
    OwnerAway,
    away_clock,
    holders,
    owner_clock,
    owner_shares,
)
from stream_sla.sla.effects import (
    BreachRetracted,
    Effect,
    FirstTouchMeasured,
    MqlDelivered,
    OwnerShare,
    RetractReason,
    Rule,
    RuleSettled,
    Settlement,
    Severity,
    SlaViolation,
    effect_id,
    retraction_id,
)
from stream_sla.sla.emitted import (
    MQL_COUNTED,
    EmittedKey,
    Measured,
    MqlCounted,
    Retracted,
    Sent,
    Settled,
    Skipped,
)
from stream_sla.sla.events import (
    CLOSING_STATUSES,
    ContactAttempt,
    Event,
    HandedToSales,
    LeadCreated,
    LeadStatusChanged,
)
from stream_sla.sla.policy import Policy, Reassignment, Segment
from stream_sla.sla.rules import PAUSED, Checkpoint

_new = tuple.__new__
"""Builds an emitted key in C: a NamedTuple's own ``__new__`` is a Python call, and keys are
built several times per event to ask whether a checkpoint was already emitted."""
_RULES = tuple(Rule)

MAX_ATTEMPTS_KEPT = 32
"""Attempts beyond this many per lead add nothing to any rule; the cap bounds state size."""

MAX_HANDOFFS_KEPT = 32
"""Hand-offs kept per lead. Past it, re-assignments inside a cycle are folded away (each
cycle keeps its first hand-off, which starts its clocks, and the lead keeps its newest, the
current owner), then whole old cycles, oldest first, with what was emitted for them."""

MAX_STATUSES_KEPT = 32
"""Status changes kept per lead. Past it, the ones no rule reads are folded away: rules read
each cycle's first status (disposition) and first closing status (end of the cycle)."""


class Added(enum.Enum):
    """What :meth:`LeadState.add_fact` did with an event."""

    NEW = "new"
    DUPLICATE = "duplicate"
    """The same event id was known (an at-least-once redelivery)."""
    OVER_LIMIT = "over_limit"
    """Not kept: past a per-lead limit and later than everything kept (e.g. the 33rd attempt)."""
    FOLDED = "folded"
    """Kept, and older history that no rule needs any more was dropped to stay in bounds."""


class Profile(NamedTuple):
    at: int
    event_id: str
    source: str
    segment: str | None
    tier: str | None
    region: str | None
    persona: str | None
    timezone: str | None = None


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
    automated: bool = False
    duration_ms: int | None = None


class StatusChange(NamedTuple):
    at: int
    event_id: str
    status: str
    amount: float | None


class LeadSummary(NamedTuple):
    team: str
    awaiting_first_touch: bool
    connected: bool
    attempts: int
    at_risk: bool
    """A warning went out in this cycle."""
    breached: bool
    owner: str | None = None
    """The rep the lead was last handed to (None in summaries written before it was kept)."""


class Assessment(NamedTuple):
    """Everything the worker needs after a change, from one pass over the facts."""

    effects: list[Effect]
    next_deadline: int | None
    evict_at: int
    summary: LeadSummary | None
    emitted_changed: bool
    """``emitted`` changed (an effect, a skipped warning, a key that followed its cycle):
    the lead's row must be written even when no fact changed."""

    @property
    def wake_at(self) -> int:
        """When the worker must look at the lead again: its next deadline, or its eviction."""
        if self.next_deadline is None:
            return self.evict_at
        return min(self.next_deadline, self.evict_at)


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
    emitted: set[EmittedKey] = field(default_factory=set)
    """Typed keys (:mod:`stream_sla.sla.emitted`) of what was published, per cycle start."""

    # -- facts ---------------------------------------------------------------

    def add(self, event: Event) -> bool:
        """Record an event's fact; False when it changed nothing (a duplicate, or over a limit)."""
        return self.add_fact(event) in (Added.NEW, Added.FOLDED)

    def add_fact(self, event: Event) -> Added:
        """Record an event's fact and say what became of it (the per-lead limits above bound
        the state whatever a CRM sends: a lead re-assigned 30,000 times stays a few KiB)."""
        if isinstance(event, ContactAttempt):
            attempt = Attempt(
                event.occurred_at,
                event.event_id,
                event.channel,
                event.outcome,
                event.owner,
                event.automated,
                event.duration_ms,
            )
            if _has_event(self.attempts, attempt.event_id):
                return Added.NEW if _insert(self.attempts, attempt) else Added.DUPLICATE
            if _insert(self.attempts, attempt, cap=MAX_ATTEMPTS_KEPT):
                return Added.NEW
            return Added.OVER_LIMIT
        if isinstance(event, HandedToSales):
            handoff = Handoff(event.occurred_at, event.event_id, event.owner, event.team)
            if not _insert(self.handoffs, handoff):
                return Added.DUPLICATE
            if len(self.handoffs) > MAX_HANDOFFS_KEPT:
                return self._fold_handoffs(handoff)
            return Added.NEW
        if isinstance(event, LeadStatusChanged):
            status = StatusChange(event.occurred_at, event.event_id, event.status, event.amount)
            if not _insert(self.statuses, status):
                return Added.DUPLICATE
            if len(self.statuses) > MAX_STATUSES_KEPT:
                return self._fold_statuses(status)
            return Added.NEW
        assert isinstance(event, LeadCreated)
        profile = Profile(
            event.occurred_at,
            event.event_id,
            event.source,
            event.segment,
            event.tier,
            event.region,
            event.persona,
            event.timezone,
        )
        if self.profile is not None and self.profile[:2] <= profile[:2]:
            return Added.DUPLICATE
        self.profile = profile
        return Added.NEW

    def _fold_handoffs(self, added: Handoff) -> Added:
        """Drop re-assignments inside cycles (oldest first), keeping each cycle's first
        hand-off and the newest; with none left to drop, the oldest cycle goes whole."""
        firsts = {cycle.handoffs[0].event_id for cycle in self.cycles()}
        newest = self.handoffs[-1].event_id
        for position, handoff in enumerate(self.handoffs):
            if handoff.event_id not in firsts and handoff.event_id != newest:
                del self.handoffs[position]
                return Added.FOLDED if handoff is not added else Added.OVER_LIMIT
        dropped = self.handoffs.pop(0)
        self.emitted = {
            key
            for key in self.emitted
            if isinstance(key, MqlCounted) or key.cycle_start != dropped.at
        }
        return Added.FOLDED if dropped is not added else Added.OVER_LIMIT

    def _fold_statuses(self, added: StatusChange) -> Added:
        """Drop a status no rule reads (oldest first); rules read, per cycle, its first status
        and its first closing one. With none to drop, the newest is not kept."""
        needed: set[str] = set()
        for cycle in self.cycles():
            end = cycle.closed_at
            inside = [
                s
                for s in self.statuses
                if s.at >= cycle.started_at and (end is None or s.at <= end)
            ]
            if inside:
                needed.add(inside[0].event_id)
            needed.update(
                s.event_id for s in inside if s.status in CLOSING_STATUSES and s.at == end
            )
            # every change of status may start or end a pause (pause_on): only repeats go
            needed.update(s.event_id for before, s in pairwise(inside) if s.status != before.status)
        for position, status in enumerate(self.statuses):
            if status.event_id not in needed:
                del self.statuses[position]
                return Added.FOLDED if status is not added else Added.OVER_LIMIT
        newest = self.statuses.pop()
        return Added.FOLDED if newest is not added else Added.OVER_LIMIT

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
                cycles.append(_new(Cycle, (start, close, tuple(current))))
            current = [handoff]
            start = handoff.at
        if current:
            cycles.append(_new(Cycle, (start, _first_at_or_after(closings, start), tuple(current))))
        return cycles

    # -- verdicts ------------------------------------------------------------

    def fields(self, cycle: Cycle) -> dict[str, str | None]:
        """What policy segments match on: the lead's profile and the team it was handed to."""
        p = self.profile
        return {
            "source": p.source if p else None,
            "segment": p.segment if p else None,
            "tier": p.tier if p else None,
            "region": p.region if p else None,
            "persona": p.persona if p else None,
            "team": cycle.handoffs[0].team,
        }

    def take_verdicts(
        self,
        policy: Policy,
        now: int | None,
        seen_at: int | None = None,
        availability: Availability = NOBODY_AWAY,
    ) -> tuple[list[Effect], int | None]:
        """The hot path: retractions, measures, what is due by ``now`` (if given) and the next
        deadline, from one pass over the facts; the effects returned are marked emitted.
        ``now=None`` when the clock may not be trusted yet (live, outside a deadline tick);
        ``seen_at`` then stamps retractions."""
        effects, next_deadline, _ = self._verdicts(
            policy, now, self.cycles(), seen_at, availability
        )
        return effects, next_deadline

    def take_assessment(
        self,
        policy: Policy,
        now: int | None,
        closed_retention_ms: int,
        idle_retention_ms: int,
        seen_at: int | None = None,
        availability: Availability = NOBODY_AWAY,
    ) -> Assessment:
        """:meth:`take_verdicts`, :meth:`evict_at` and :meth:`summary` at the cost of one: the
        worker needs all three per change, and the cycles under them are the costly part.
        ``emitted_changed`` spares the caller a copy of ``emitted`` to compare."""
        cycles = self.cycles()
        effects, next_deadline, emitted_changed = self._verdicts(
            policy, now, cycles, seen_at, availability
        )
        return Assessment(
            effects,
            next_deadline,
            self._evict_at(cycles, closed_retention_ms, idle_retention_ms),
            self._summary(cycles),
            emitted_changed,
        )

    def _verdicts(
        self,
        policy: Policy,
        now: int | None,
        cycles: list[Cycle],
        seen_at: int | None = None,
        availability: Availability = NOBODY_AWAY,
    ) -> tuple[list[Effect], int | None, bool]:
        """Effects, next deadline, and whether ``emitted`` changed: every effect adds a key
        of its own; a reconciliation or a skipped warning may change it with no effect."""
        found = self.checkpoints(policy, cycles, availability)
        effects, moved = self._reconcile(cycles, found, _first_given(seen_at, now))
        effects += self._measures(policy, cycles, found, availability)
        skipped = False
        if now is not None:
            due, skipped = self._due(policy, now, found, availability)
            effects += due
        return effects, self._next_deadline(found), bool(effects) or moved or skipped

    def checkpoints(
        self,
        policy: Policy,
        cycles: list[Cycle] | None = None,
        availability: Availability = NOBODY_AWAY,
    ) -> list[tuple[Cycle, Segment, Checkpoint]]:
        found: list[tuple[Cycle, Segment, Checkpoint]] = []
        calling = policy.calling_hours
        for cycle in self.cycles() if cycles is None else cycles:
            segment = policy.segments[0]
            if segment.match:  # the first segment matches every lead unless it says otherwise
                segment = policy.segment_for(self.fields(cycle))
            ft, at, dp = segment.first_touch, segment.attempts, segment.disposition
            pausing = (
                (ft is not None and bool(ft.pause_on))
                or (at is not None and bool(at.pause_on))
                or (dp is not None and bool(dp.pause_on))
            )  # only then do rules read every status (inline: this runs per cycle and change)
            facts = self._cycle_facts(cycle, policy, pausing)
            if calling is not None and self.profile is not None:
                facts = facts._replace(
                    calling=calling.calendar_for(self.profile.timezone, self.profile.region)
                )
            if ft is not None:
                found += [
                    (cycle, segment, c)
                    for c in (
                        rules.first_touch(ft, facts)
                        if ft.owner_away is TEAM_CALENDAR
                        else _followed(rules.first_touch, ft, facts, cycle, availability)
                    )
                ]
            if at is not None:
                found += [
                    (cycle, segment, c)
                    for c in (
                        rules.attempts(at, facts)
                        if at.owner_away is TEAM_CALENDAR
                        else _followed(rules.attempts, at, facts, cycle, availability)
                    )
                ]
            if dp is not None:
                found += [
                    (cycle, segment, c)
                    for c in (
                        rules.disposition(dp, facts)
                        if dp.owner_away is TEAM_CALENDAR
                        else _followed(rules.disposition, dp, facts, cycle, availability)
                    )
                ]
        return found

    def take_measures(
        self, policy: Policy, availability: Availability = NOBODY_AWAY
    ) -> list[Effect]:
        """What the facts alone settle, once each: the MQL, first-touch speed, rules met
        (after the retractions late facts call for); the effects returned are marked emitted."""
        cycles = self.cycles()
        found = self.checkpoints(policy, cycles, availability)
        effects, _ = self._reconcile(cycles, found, None)
        return effects + self._measures(policy, cycles, found, availability)

    def _reconcile(
        self,
        cycles: list[Cycle],
        found: list[tuple[Cycle, Segment, Checkpoint]],
        detected_at: int | None,
    ) -> tuple[list[Effect], bool]:
        """Bring what was published in line with the facts; retract breaches no longer deserved.
        Returns the retractions, and whether a key followed a moved cycle (or was dropped with
        it), which changes ``emitted`` with no effect.

        A cycle's start is its identity in ``emitted``. When a late earlier hand-off moves it,
        the warnings and measures already sent follow the cycle (they are not sent again),
        and its breach is retracted: its id named the old start. A breach of an unchanged
        cycle is retracted when no breach checkpoint of its rule can fall due unmet any more
        (every one was kept, or became moot, in time). Facts only, never ``now``: so a
        retraction is the same whether found by a batch or by a deadline tick.
        """
        effects: list[Effect] = []
        moved = False
        starts = {cycle.started_at for cycle in cycles}
        published: list[tuple[Rule, int]] = []
        for key in [k for k in self.emitted if not isinstance(k, (MqlCounted, Retracted))]:
            if key.cycle_start in starts:
                if isinstance(key, Sent) and key.severity is Severity.BREACH:
                    published.append((key.rule, key.cycle_start))
                continue
            self.emitted.discard(key)  # the cycle's start moved (rare): follow it
            moved = True
            if isinstance(key, Sent) and key.severity is Severity.BREACH:
                effects.append(
                    self._retraction(
                        key.rule, key.cycle_start, RetractReason.CYCLE_MOVED, detected_at
                    )
                )
            elif not isinstance(key, Skipped):
                moved_to = _cycle_of_handoff(cycles, key.cycle_start)
                if moved_to is not None:
                    self.emitted.add(key._replace(cycle_start=moved_to))
        if not published:
            return effects, moved
        open_breaches: set[tuple[Rule, int]] = set()
        closed: set[tuple[Rule, int]] = set()
        ruled: set[tuple[Rule, int]] = set()
        paused: set[tuple[Rule, int]] = set()
        for cycle, _, c in found:
            if c.severity is not Severity.BREACH:
                continue
            ruled.add((c.rule, cycle.started_at))
            if c.due_at == PAUSED:
                paused.add((c.rule, cycle.started_at))
            elif c.satisfied_at is None or c.satisfied_at > c.due_at:
                open_breaches.add((c.rule, cycle.started_at))
            elif c.by_closing:
                closed.add((c.rule, cycle.started_at))
        for rule, start in published:
            if (rule, start) in open_breaches:
                continue
            self.emitted.discard(Sent(rule, Severity.BREACH, start))
            if (rule, start) not in ruled:
                reason = RetractReason.SEGMENT_CHANGED
            elif (rule, start) in closed:
                reason = RetractReason.CLOSED_LATE
            elif (rule, start) in paused:
                reason = RetractReason.PAUSED_LATE
            else:
                reason = RetractReason.MET_LATE
            effects.append(self._retraction(rule, start, reason, detected_at))
        return effects, moved

    def _retraction(
        self, rule: Rule, start: int, reason: RetractReason, detected_at: int | None
    ) -> BreachRetracted:
        """Stamped ``detected_at``, or the newest fact's time when no clock was given."""
        generation = 0
        while Retracted(rule, start, generation) in self.emitted:
            generation += 1
        self.emitted.add(Retracted(rule, start, generation))
        breach_id = effect_id(self.lead_id, rule, Severity.BREACH, start)
        return BreachRetracted(
            retraction_id(breach_id, generation),
            breach_id,
            rule,
            self.lead_id,
            start,
            reason,
            detected_at if detected_at is not None else self.last_activity(),
        )

    def _measures(
        self,
        policy: Policy,
        cycles: list[Cycle],
        found: list[tuple[Cycle, Segment, Checkpoint]],
        availability: Availability = NOBODY_AWAY,
    ) -> list[Effect]:
        effects: list[Effect] = []
        profile = self.profile
        if profile is not None and MQL_COUNTED not in self.emitted:
            self.emitted.add(MQL_COUNTED)
            effects.append(
                MqlDelivered(
                    self.lead_id,
                    profile.at,
                    profile.source,
                    profile.segment,
                    profile.persona,
                    policy.marketing.weight(profile.persona),
                )
            )
        for cycle in cycles:
            self._first_touch_measured(cycle, effects)
        # breach checkpoints per (cycle, rule) while all were kept by their deadline; None once
        # one was not (most open leads): such a rule cannot be settled yet
        settled: dict[tuple[int, Rule], list[tuple[Segment, Checkpoint]] | None] = {}
        for cycle, segment, checkpoint in found:
            if checkpoint.severity is Severity.BREACH:
                at = (cycle.started_at, checkpoint.rule)
                breaches = settled.get(at, _NONE_YET)
                if breaches is None:
                    continue
                kept = checkpoint.satisfied_at
                if kept is None or kept > checkpoint.deadline_at:
                    settled[at] = None
                elif breaches is _NONE_YET:
                    settled[at] = [(segment, checkpoint)]
                else:
                    breaches.append((segment, checkpoint))
        by_start = {cycle.started_at: cycle for cycle in cycles}
        for (started_at, rule), group in settled.items():
            if group is None:
                continue
            breaches = group
            key = Settled(rule, started_at)
            if key in self.emitted:
                continue
            self.emitted.add(key)
            segment, last = breaches[-1]
            outcome = (
                Settlement.STOPPED if any(c.by_closing for _, c in breaches) else Settlement.MET
            )
            kept_at = last.satisfied_at or last.deadline_at
            owner = _owner_at(by_start[started_at], kept_at)
            paused = rules.paused_ms(last.pauses, started_at, kept_at)
            cycle = by_start[started_at]
            owners = (
                _shares(getattr(segment, rule.value), cycle, started_at, kept_at, availability)
                if len(cycle.handoffs) > 1
                else ()
            )
            effects.append(
                RuleSettled(
                    self.lead_id,
                    rule,
                    outcome,
                    started_at,
                    owner.owner,
                    owner.team,
                    profile.source if profile else None,
                    segment.name,
                    paused / 1000,
                    owners,
                )
            )
        return effects

    def take_due(self, policy: Policy, now: int) -> list[Effect]:
        """Warnings and breaches due by ``now`` and not yet emitted; marks them emitted.

        Only call with a ``now`` that every event up to it has been applied for:
        the live worker calls it from deadline ticks of caught-up partitions, the
        replay with event time, so an attempt still unread cannot be missed.
        A warning is sent only while the promise is still open at ``now`` and its
        breach is not yet due: a reminder after the fact helps nobody. Retractions
        late facts call for come first.
        """
        cycles = self.cycles()
        found = self.checkpoints(policy, cycles)
        retractions, _ = self._reconcile(cycles, found, now)
        return retractions + self._due(policy, now, found)[0]

    def _due(
        self,
        policy: Policy,
        now: int,
        found: list[tuple[Cycle, Segment, Checkpoint]],
        availability: Availability = NOBODY_AWAY,
    ) -> tuple[list[Effect], bool]:
        """What fell due, and whether a warning was skipped (marked, with no effect)."""
        effects: list[Effect] = []
        skipped = False
        for cycle, segment, c in found:
            if now < c.due_at or self._done(c, cycle):
                continue
            if c.severity is not Severity.BREACH and (
                now >= c.deadline_at or (c.satisfied_at is not None and c.satisfied_at <= now)
            ):
                self.emitted.add(self._skip_key(c, cycle))
                skipped = True
                continue
            self.emitted.add(self._key(c.rule, c.severity, cycle))
            effects.append(self._violation(c, cycle, segment, now, policy, availability))
        return effects, skipped

    def next_deadline(self, policy: Policy) -> int | None:
        """The earliest moment at which :meth:`take_due` could emit something new."""
        return self._next_deadline(self.checkpoints(policy))

    def _next_deadline(self, found: list[tuple[Cycle, Segment, Checkpoint]]) -> int | None:
        earliest = None
        for cycle, _, c in found:
            due = c.due_at
            if due == PAUSED or (earliest is not None and due >= earliest):
                continue  # cannot be the earliest: spare the emitted lookups
            if not self._done(c, cycle):
                earliest = due
        return earliest

    def unconnected_attempts(self) -> list[tuple[Handoff, int]]:
        """(owner at hand-off, attempts made) per cycle that never connected: follow-up depth."""
        found = []
        for cycle in self.cycles():
            end = cycle.closed_at
            tried = [
                a for a in self.attempts if a.at >= cycle.started_at and (end is None or a.at < end)
            ]
            if not any(a.outcome == "connected" for a in tried):
                found.append((cycle.handoffs[-1], len(tried)))
        return found

    def last_activity(self) -> int:
        """Event time of the newest fact about this lead."""
        newest: int | None = self.profile.at if self.profile else None
        for facts in (self.handoffs, self.attempts, self.statuses):
            if facts:
                at = facts[-1].at
                if newest is None or at > newest:
                    newest = at
        return 0 if newest is None else newest

    def evict_at(self, closed_retention_ms: int, idle_retention_ms: int) -> int:
        """When the state may be dropped: soon after the last cycle closed, late if it is idle.

        Eviction keeps state from growing without bound; a lead that comes back
        after it simply starts again (its old cycles were settled long before).
        """
        return self._evict_at(self.cycles(), closed_retention_ms, idle_retention_ms)

    def _evict_at(
        self, cycles: list[Cycle], closed_retention_ms: int, idle_retention_ms: int
    ) -> int:
        closed = bool(cycles) and cycles[-1].closed_at is not None
        keep = closed_retention_ms if closed else idle_retention_ms
        return self.last_activity() + keep

    def summary(self) -> LeadSummary | None:
        """Where the lead's current cycle stands, for live gauges (None: no open cycle)."""
        return self._summary(self.cycles())

    def _summary(self, cycles: list[Cycle]) -> LeadSummary | None:
        if not cycles or cycles[-1].closed_at is not None:
            return None
        cycle = cycles[-1]
        start = cycle.started_at
        tried = self.attempts[bisect.bisect_left(self.attempts, (start,)) :]
        at_risk = breached = False
        for key in self.emitted:  # a handful of keys: one pass, no key built per rule
            if type(key) is Sent and key.cycle_start == start:
                if key.severity is Severity.WARNING:
                    at_risk = True
                else:
                    breached = True
        connected = False
        for a in tried:  # a loop: a generator per call costs more than the test
            if a.outcome == "connected":
                connected = True
                break
        last = cycle.handoffs[-1]
        return _new(
            LeadSummary,
            (last.team, not tried, connected, len(tried), at_risk, breached, last.owner),
        )

    # -- helpers -------------------------------------------------------------

    def _done(self, c: Checkpoint, cycle: Cycle) -> bool:
        """Kept in time, or already emitted (one per rule, severity and cycle), or skipped."""
        if c.satisfied_at is not None and c.satisfied_at <= c.due_at:
            return True
        if _new(Sent, (c.rule, c.severity, cycle.started_at)) in self.emitted:
            return True
        return c.severity is not Severity.BREACH and self._skip_key(c, cycle) in self.emitted

    def _cycle_facts(self, cycle: Cycle, policy: Policy, pausing: bool) -> rules.CycleFacts:
        """The cycle's facts by bisection: attempts in [start, end), statuses in [start, end]
        (facts are kept sorted by time)."""
        start, end = cycle.started_at, cycle.closed_at
        kept = self.attempts
        low = bisect.bisect_left(kept, (start,))
        high = len(kept) if end is None else bisect.bisect_left(kept, (end,))
        attempts = tuple(kept[low:high])
        clock_start = start
        if policy.reassignment is Reassignment.RESTART:
            first_touch = attempts[0][0] if attempts else None
            for handoff in cycle.handoffs:
                if first_touch is None or handoff.at <= first_touch:
                    clock_start = handoff.at
        changes = self.statuses
        low = bisect.bisect_left(changes, (start,))
        high = len(changes) if end is None else bisect.bisect_left(changes, (end + 1,))
        first_status = changes[low].at if low < high else None
        statuses = tuple((s.at, s.status) for s in changes[low:high]) if pausing else ()
        return rules.CycleFacts(clock_start, end, attempts, first_status, statuses)

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
        key = Measured(cycle.started_at)
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
                segment=self.profile.segment if self.profile else None,
                seconds=(touch.at - cycle.started_at) / 1000,
                handed_at=cycle.started_at,
            )
        )

    def _violation(
        self,
        c: Checkpoint,
        cycle: Cycle,
        segment: Segment,
        now: int,
        policy: Policy,
        availability: Availability = NOBODY_AWAY,
    ) -> SlaViolation:
        owner = _owner_at(cycle, c.due_at)
        profile = self.profile
        detail = dict(c.detail)
        rule = getattr(segment, c.rule.value)
        if rule is not None and rule.pause_on:
            detail["paused_seconds"] = rules.paused_ms(c.pauses, cycle.started_at, c.due_at) // 1000
        owners = (
            _shares(rule, cycle, cycle.started_at, c.deadline_at, availability)
            if rule is not None and len(cycle.handoffs) > 1
            else ()
        )
        return SlaViolation(
            id=effect_id(self.lead_id, c.rule, c.severity, cycle.started_at),
            severity=c.severity,
            rule=c.rule,
            lead_id=self.lead_id,
            cycle_started_at=cycle.started_at,
            deadline_at=c.deadline_at,
            detected_at=max(now, c.due_at),
            target_seconds=c.target_ms / 1000,
            owner=owner.owner,
            team=owner.team,
            source=profile.source if profile else None,
            segment=profile.segment if profile else None,
            policy_segment=segment.name,
            policy_version=policy.version,
            detail=detail,
            owners=owners,
        )

    @staticmethod
    def _key(rule: Rule, severity: Severity, cycle: Cycle) -> Sent:
        return _new(Sent, (rule, severity, cycle.started_at))

    @staticmethod
    def _skip_key(c: Checkpoint, cycle: Cycle) -> Skipped:
        return _new(Skipped, (c.rule, c.severity, cycle.started_at, c.due_at))


_NONE_YET: list[tuple[Segment, Checkpoint]] = []
"""No breach checkpoint of a (cycle, rule) seen yet (a marker: never appended to)."""


TEAM_CALENDAR = OwnerAway.TEAM_CALENDAR
"""The default owner_away: checked inline on the hot path (no call for rules that use it)."""


def _clock(rule: Any, cycle: Cycle, availability: Availability) -> rules.Clock:
    """The rule's clock: its calendar, or that calendar while the owner works."""
    if rule.owner_away is OwnerAway.FOLLOW_OWNER_HOURS:
        segments = holders(cycle.handoffs)
        if not availability.always_available(segments):
            return owner_clock(rule.calendar, availability, segments)
    calendar: rules.Clock = rule.calendar
    return calendar


def _followed(
    evaluate: Any,
    rule: Any,
    facts: rules.CycleFacts,
    cycle: Cycle,
    availability: Availability,
) -> list[Checkpoint]:
    """A rule's checkpoints with its owner_away choice applied (called only for a rule that
    does not keep the default team_calendar: the hot path checks that inline)."""
    away = rule.owner_away
    segments = holders(cycle.handoffs)
    if availability.always_available(segments):
        found: list[Checkpoint] = evaluate(rule, facts)
        return found  # nobody holding the lead has hours or absences: nothing to follow
    if away is OwnerAway.FOLLOW_OWNER_HOURS:
        clock = owner_clock(rule.calendar, availability, segments)
        return list(evaluate(rule, facts._replace(clock=clock)))
    found = list(evaluate(rule, facts))
    breach = next((c for c in found if c.severity is Severity.BREACH), None)
    if breach is None or breach.due_at == PAUSED:
        return found
    away_for = away_clock(rule.calendar, availability, segments)
    due = away_for.deadline_before(facts.clock_start, rule.grace_ms, breach.deadline_at)
    if due is None:
        return found
    reroute = breach._replace(
        severity=Severity.REROUTE,
        due_at=due,
        detail=(*breach.detail, ("owner_away_seconds", rule.grace_ms // 1000)),
    )
    return [reroute, *found]


def _shares(
    rule: Any, cycle: Cycle, start: int, end: int, availability: Availability
) -> tuple[OwnerShare, ...]:
    return owner_shares(holders(cycle.handoffs), _clock(rule, cycle, availability), start, end)


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


def _has_event(facts: list[Attempt], event_id: str) -> bool:
    """A fact with this event id is kept (a loop: a generator per event costs more)."""
    for fact in facts:  # noqa: SIM110
        if fact.event_id == event_id:
            return True
    return False


def _first_given(*moments: int | None) -> int | None:
    return next((m for m in moments if m is not None), None)


def _cycle_of_handoff(cycles: list[Cycle], handed_at: int) -> int | None:
    """Start of the cycle that now holds the hand-off made at ``handed_at``."""
    for cycle in cycles:
        if any(h.at == handed_at for h in cycle.handoffs):
            return cycle.started_at
    return None


def _first_at_or_after(times: list[int], moment: int) -> int | None:
    """The first of ``times`` (sorted) at or after ``moment``."""
    index = bisect.bisect_left(times, moment)
    return times[index] if index < len(times) else None


def _owner_at(cycle: Cycle, moment: int) -> Handoff:
    """The rep who held the lead at ``moment``: re-assignment moves blame, not the clock."""
    owner = cycle.handoffs[0]
    for handoff in cycle.handoffs:
        if handoff.at > moment:
            break
        owner = handoff
    return owner
