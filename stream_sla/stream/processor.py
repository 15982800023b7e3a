"""The worker's per-batch work: decode, update leads, collect what to publish, reschedule.

Synchronous on purpose: it touches only memory (the store, the deadline index, the
metrics) and returns an :class:`Outbox`; the Faust wiring sends it. So a batch is
applied with no ``await`` in the middle (the deadline timer cannot interleave), and
tests drive it without a broker.

A batch is grouped by lead before anything is evaluated: a lead with five events in
one batch is loaded, assessed, encoded and written once, not five times.

Order for restarts, kept by the caller: violations are delivered (acknowledged) before
the state that records them goes to the changelog; the input offsets are committed only
after the producer is flushed. A crash in between re-emits at worst, with the same ids.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from stream_sla.metrics import Metrics
from stream_sla.sla.deadlines import DeadlineIndex, Due
from stream_sla.sla.effects import (
    BreachRetracted,
    Effect,
    FirstTouchMeasured,
    MqlDelivered,
    RuleSettled,
    Settlement,
    Severity,
    SlaViolation,
)
from stream_sla.sla.events import (
    Event,
    EventKind,
    EventRejected,
    check_event_time,
    decode_event,
)
from stream_sla.sla.lead import Added, Assessment, LeadState
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import dump_state, load_header, load_state
from stream_sla.stream.status import RecentViolations
from stream_sla.stream.store import ChangelogStore
from stream_sla.stream.tally import MqlTally


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Record:
    """What the processor needs of a Kafka record (Faust's Message has more)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(slots=True)
class Outbox:
    """What a batch or a deadline sweep wants sent; the adapter sends it."""

    violations: list[SlaViolation] = field(default_factory=list)
    retractions: list[BreachRetracted] = field(default_factory=list)
    """Breaches late data showed were not deserved; published on the breaches topic."""
    dead_letters: list[tuple[Record, EventRejected]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a lead's state is kept after its cycle closed, or after it went quiet."""

    closed_ms: int = 7 * 86_400_000
    idle_ms: int = 90 * 86_400_000


class LeadProcessor:
    def __init__(
        self,
        store: ChangelogStore,
        policy: Policy,
        metrics: Metrics,
        index: DeadlineIndex | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        retention: Retention = Retention(),
        tally: MqlTally | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.index = index if index is not None else DeadlineIndex()
        self.clock = clock
        self.retention = retention
        self.tally = tally
        self.recent = RecentViolations()

    def apply(self, records: Iterable[tuple[EventKind, Record]]) -> Outbox:
        """A batch of CRM records, in offset order per partition."""
        outbox = Outbox()
        m = self.metrics
        lateness = self.policy.lateness
        now = self.clock()
        consumed: Counter[str] = Counter()
        leads: dict[str, tuple[int, list[tuple[str, EventKind, Event]]]] = {}
        for kind, record in records:
            consumed[record.topic] += 1
            try:
                event = decode_event(kind, record.key, record.value)
                check_event_time(event, now, lateness.max_late_ms, lateness.max_future_ms)
            except EventRejected as rejected:
                m.dead_letters.labels(rejected.reason.value).inc()
                outbox.dead_letters.append((record, rejected))
                continue
            entry = leads.get(event.lead_id)
            if entry is None:
                leads[event.lead_id] = (record.partition, [(record.topic, kind, event)])
            else:
                entry[1].append((record.topic, kind, event))

        newest = 0
        duplicates: Counter[str] = Counter()
        limited: Counter[str] = Counter()
        for lead_id, (partition, events) in leads.items():
            state = self._load(partition, lead_id)
            if state is None:
                state = LeadState(lead_id)
            changed = False
            for topic, kind, event in events:
                added = state.add_fact(event)
                if added is Added.NEW or added is Added.FOLDED:
                    changed = True
                    newest = max(newest, event.occurred_at)
                if added is Added.DUPLICATE:
                    duplicates[topic] += 1
                elif added is not Added.NEW:
                    limited[f"{kind.value.replace('-', '_')}_{added.value}"] += 1
            if changed:
                assessment = self._assess(state, None, seen_at=now)
                self._settle(state, partition, assessment, outbox, write=True)

        for topic, count in consumed.items():
            m.events_consumed.labels(topic).inc(count)
        for topic, count in duplicates.items():
            m.duplicate_events.labels(topic).inc(count)
        for reason, count in limited.items():
            m.lead_limits.labels(reason).inc(count)
        if newest:
            m.last_event_time.set(newest / 1000)
            m.last_event_received.set(time.time())
        self._gauges()
        return outbox

    def fire(self, due: Iterable[Due], now: int) -> Outbox:
        """Deadlines fell due: emit what is due, or forget leads whose retention ran out.

        Only call with a ``now`` up to which the partitions' input has been applied.
        """
        outbox = Outbox()
        for deadline in due:
            state = self._load(deadline.partition, deadline.lead_id)
            if state is None:
                continue  # evicted already: nothing can be due
            emitted_before = set(state.emitted)
            assessment = self._assess(state, now)
            nothing_due = assessment.next_deadline is None or assessment.next_deadline > now
            if not assessment.effects and nothing_due and now >= assessment.evict_at:
                self._evict(state.lead_id, deadline.partition)
                continue
            changed = state.emitted != emitted_before
            self._settle(state, deadline.partition, assessment, outbox, write=changed)
        self._gauges()
        return outbox

    def _assess(self, state: LeadState, now: int | None, seen_at: int | None = None) -> Assessment:
        return state.assess(
            self.policy, now, self.retention.closed_ms, self.retention.idle_ms, seen_at
        )

    def _settle(
        self,
        state: LeadState,
        partition: int,
        assessment: Assessment,
        outbox: Outbox,
        write: bool,
    ) -> None:
        for effect in assessment.effects:
            self._account(effect, outbox)
            if self.tally is not None and isinstance(effect, MqlDelivered):
                source = self.metrics.source(effect.source)
                self.tally.add(effect.created_at, source, effect.weight, partition)
        wake = assessment.wake_at
        if write:
            self.store.put(partition, state.lead_id, dump_state(state, wake, assessment.summary))
        self.index.schedule(state.lead_id, partition, wake)
        self.metrics.open_leads.update(state.lead_id, partition, assessment.summary)

    def _evict(self, lead_id: str, partition: int) -> None:
        self.store.delete(partition, lead_id)
        self.index.schedule(lead_id, partition, None)
        self.metrics.open_leads.update(lead_id, partition, None)
        self.metrics.evicted.inc()

    def _load(self, partition: int, lead_id: str) -> LeadState | None:
        raw = self.store.get(partition, lead_id)
        return load_state(lead_id, raw) if raw is not None else None

    def _gauges(self) -> None:
        self.metrics.pending_deadlines.set(len(self.index))
        self.metrics.state_leads.set(len(self.store))

    def _account(self, effect: Effect, outbox: Outbox) -> None:
        m = self.metrics
        if isinstance(effect, SlaViolation):
            team = m.team(effect.team)
            m.violations.labels(effect.severity.value, effect.rule.value, team).inc()
            if effect.severity is Severity.BREACH:
                rule = effect.rule.value
                m.rule_outcomes.labels(rule, "breached", team, effect.policy_segment).inc()
                m.rep_rule_outcomes.labels(rule, "breached", team, m.rep(effect.owner)).inc()
            outbox.violations.append(effect)
            self.recent.add(effect)
        elif isinstance(effect, BreachRetracted):
            m.breaches_retracted.labels(effect.rule.value, effect.reason.value).inc()
            outbox.retractions.append(effect)
            self.recent.retract(effect.retracts)
        elif isinstance(effect, FirstTouchMeasured):
            team = m.team(effect.team)
            m.first_touch.labels(team, m.source(effect.source), m.segment(effect.segment)).observe(
                effect.seconds
            )
            m.rep_first_touch.labels(team, m.rep(effect.owner)).observe(effect.seconds)
        elif isinstance(effect, RuleSettled):
            team = m.team(effect.team)
            rule, outcome, rep = effect.rule.value, effect.outcome.value, m.rep(effect.owner)
            m.rule_outcomes.labels(rule, outcome, team, effect.policy_segment).inc()
            m.rep_rule_outcomes.labels(rule, outcome, team, rep).inc()
            if effect.outcome is Settlement.MET:
                m.points.labels(team, rep).inc()
        else:
            source = m.source(effect.source)
            m.mqls.labels(source, m.segment(effect.segment)).inc()
            m.mql_value.labels(source).inc(effect.weight)

    # -- ownership -----------------------------------------------------------

    def rebuild(self, partition: int) -> None:
        """Re-create the deadline index and gauges of a partition the store just recovered.

        Reads the wake-up and summary written with each state: no lead is evaluated.
        """
        for lead_id, raw in self.store.items(partition):
            wake, summary = load_header(raw)
            self.index.schedule(lead_id, partition, wake)
            self.metrics.open_leads.update(lead_id, partition, summary)
        if self.tally is not None:
            self.tally.rebuild(partition)
        self._gauges()

    def drop_partitions(self, partitions: set[int]) -> None:
        self.index.drop_partitions(partitions)
        self.metrics.open_leads.drop_partitions(partitions)
        if self.tally is not None:
            self.tally.drop_partitions(partitions)
        self.store.drop(partitions)
        self._gauges()
