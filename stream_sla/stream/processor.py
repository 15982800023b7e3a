"""The per-record work of the worker: decode, update the lead, publish effects, reschedule.

Kept apart from Faust's agent plumbing so the same steps serve the CRM agents and
the deadline-tick agent, and so tests can drive it with any table-like mapping.
Order inside :meth:`handle` matters for restarts: the new state (with what was
emitted) is written to the changelogged table before the effects are sent; the
offset is committed only after both, so a crash re-emits at worst (same ids).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Protocol

import orjson

from stream_sla.metrics import Metrics
from stream_sla.sla.deadlines import DeadlineIndex
from stream_sla.sla.effects import (
    Effect,
    FirstTouchMeasured,
    MqlDelivered,
    RuleSettled,
    Settlement,
    Severity,
    SlaViolation,
)
from stream_sla.sla.events import (
    EventKind,
    EventRejected,
    RejectReason,
    check_event_time,
    decode_event,
)
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import dump_state, load_state
from stream_sla.stream.status import RecentViolations
from stream_sla.stream.tally import MqlTally

TICK = "tick"


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


class Publisher(Protocol):
    async def violation(self, violation: SlaViolation) -> None: ...

    async def dead_letter(self, record: Record, rejected: EventRejected) -> None: ...


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a lead's state is kept after its cycle closed, or after it went quiet."""

    closed_ms: int = 7 * 86_400_000
    idle_ms: int = 90 * 86_400_000


class LeadProcessor:
    def __init__(
        self,
        table: MutableMapping[bytes, bytes],
        policy: Policy,
        publisher: Publisher,
        metrics: Metrics,
        index: DeadlineIndex | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        retention: Retention = Retention(),
        tally: MqlTally | None = None,
    ) -> None:
        self.table = table
        self.policy = policy
        self.publisher = publisher
        self.metrics = metrics
        self.index = index if index is not None else DeadlineIndex()
        self.clock = clock
        self.retention = retention
        self.tally = tally
        self.recent = RecentViolations()
        self.stored: Counter[int] = Counter()
        """Leads in the table per partition (a gauge; len() of a RocksDB table is a scan)."""

    async def handle(self, kind: EventKind | str, record: Record) -> None:
        self.metrics.events_consumed.labels(record.topic).inc()
        try:
            if kind == TICK:
                await self._on_tick(_decode_tick(record), record.partition)
                return
            event = decode_event(EventKind(kind), record.key, record.value)
            lateness = self.policy.lateness
            check_event_time(event, self.clock(), lateness.max_late_ms, lateness.max_future_ms)
        except EventRejected as rejected:
            self.metrics.dead_letters.labels(rejected.reason.value).inc()
            await self.publisher.dead_letter(record, rejected)
            return
        state = self._load(event.lead_id)
        if state is None:
            state = LeadState(event.lead_id)
            self.stored[record.partition] += 1
        if not state.add(event):
            self.metrics.duplicate_events.labels(record.topic).inc()
            return
        self.metrics.last_event_time.set(event.occurred_at / 1000)
        self.metrics.last_event_received.set(time.time())
        effects, next_deadline = state.evaluate(self.policy, None)
        await self._commit(state, record.partition, effects, next_deadline, write=True)

    async def _on_tick(self, lead_id: str, partition: int) -> None:
        """A deadline fell due: emit what is due, or forget a lead whose retention ran out."""
        state = self._load(lead_id)
        if state is None:
            return  # evicted already: nothing can be due
        now = self.clock()
        emitted_before = len(state.emitted)
        effects, next_deadline = state.evaluate(self.policy, now)
        nothing_due = next_deadline is None or next_deadline > now
        if not effects and nothing_due and now >= self._evict_at(state):
            del self.table[lead_id.encode()]
            self.stored[partition] -= 1
            self.index.schedule(lead_id, partition, None)
            self.metrics.open_leads.update(lead_id, partition, None)
            self.metrics.evicted.inc()
            self._gauges()
            return
        changed = len(state.emitted) != emitted_before
        await self._commit(state, partition, effects, next_deadline, write=changed)

    async def _commit(
        self,
        state: LeadState,
        partition: int,
        effects: list[Effect],
        next_deadline: int | None,
        write: bool,
    ) -> None:
        """Publish first, then record the state, so a crash in between re-emits on restart
        (same id) rather than losing a breach; offsets are committed after both are flushed.
        """
        for effect in effects:
            await self._publish(effect)
            if self.tally is not None and isinstance(effect, MqlDelivered):
                self.tally.add(effect.created_at, effect.source, effect.weight, partition)
        if write:
            self.table[state.lead_id.encode()] = dump_state(state)
        evict_at = self._evict_at(state)
        wake = evict_at if next_deadline is None else min(next_deadline, evict_at)
        self._track(state, partition, wake)

    def _evict_at(self, state: LeadState) -> int:
        return state.evict_at(self.retention.closed_ms, self.retention.idle_ms)

    def _load(self, lead_id: str) -> LeadState | None:
        raw = self.table.get(lead_id.encode())
        return load_state(lead_id, raw) if raw is not None else None

    def _track(self, state: LeadState, partition: int, wake_at: int | None) -> None:
        self.index.schedule(state.lead_id, partition, wake_at)
        self.metrics.open_leads.update(state.lead_id, partition, state.summary())
        self._gauges()

    def _gauges(self) -> None:
        self.metrics.pending_deadlines.set(len(self.index))
        self.metrics.state_leads.set(sum(self.stored.values()))

    async def _publish(self, effect: Effect) -> None:
        m = self.metrics
        if isinstance(effect, SlaViolation):
            team = m.team(effect.team)
            m.violations.labels(effect.severity.value, effect.rule.value, team).inc()
            if effect.severity is Severity.BREACH:
                m.rule_outcomes.labels(effect.rule.value, "breached", team).inc()
            await self.publisher.violation(effect)
            self.recent.add(effect)
        elif isinstance(effect, FirstTouchMeasured):
            team = m.team(effect.team)
            m.first_touch.labels(
                team, m.source(effect.source), effect.segment or "unknown"
            ).observe(effect.seconds)
            m.rep_first_touch.labels(team, m.rep(effect.owner)).observe(effect.seconds)
        elif isinstance(effect, RuleSettled):
            team = m.team(effect.team)
            m.rule_outcomes.labels(effect.rule.value, effect.outcome.value, team).inc()
            if effect.outcome is Settlement.MET:
                m.points.labels(team, m.rep(effect.owner)).inc()
        else:
            source = m.source(effect.source)
            m.mqls.labels(source, effect.segment or "unknown").inc()
            m.mql_value.labels(source).inc(effect.weight)

    # -- ownership -----------------------------------------------------------

    def rebuild(self, items: list[tuple[bytes, bytes, int]]) -> None:
        """Re-create the deadline index and gauges from table contents (after recovery)."""
        for partition in {partition for _, _, partition in items}:
            self.stored[partition] = 0
        for key, raw, partition in items:
            state = load_state(key.decode(), raw)
            self.stored[partition] += 1
            next_deadline = state.next_deadline(self.policy)
            evict_at = self._evict_at(state)
            self._track(
                state,
                partition,
                evict_at if next_deadline is None else min(next_deadline, evict_at),
            )

    def drop_partitions(self, partitions: set[int]) -> None:
        self.index.drop_partitions(partitions)
        self.metrics.open_leads.drop_partitions(partitions)
        if self.tally is not None:
            self.tally.drop_partitions(partitions)
        for partition in partitions:
            self.stored.pop(partition, None)
        self._gauges()


def encode_tick(lead_id: str, due_at: int) -> bytes:
    return orjson.dumps({"lead_id": lead_id, "due_at": due_at})


def _decode_tick(record: Record) -> str:
    try:
        lead_id = orjson.loads(record.value)["lead_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise EventRejected(RejectReason.INVALID_VALUE, "not a deadline tick") from None
    if not isinstance(lead_id, str):
        raise EventRejected(RejectReason.WRONG_TYPE, "lead_id: expected a string")
    return lead_id
