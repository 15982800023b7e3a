"""The one SLA engine: CRM records in, effects and changed state rows out, per partition.

Live (the Faust worker) and offline (replay) drive this same object; only the clock differs
(wall time for the worker, event time for a replay). It is pure: no Kafka, no asyncio, no
wall clock, no Prometheus. Every command returns an :class:`Outcome` that says what the
outside world must do (publish effects, dead-letter records, update gauges) and
:meth:`SlaEngine.take_changes` hands over the state rows to write to the changelogs, per
partition: exactly what one transaction per batch needs (outputs, changelog rows, offsets).

A :class:`PartitionState` owns everything of one Kafka partition: its leads' state rows
(as the bytes written to the changelog, each with its wake-up and gauge summary), its
month-to-date MQL tally rows and its deadlines (one heap per partition in
:class:`DeadlineIndex`). Gauge contributions leave as increments in each outcome (a lead's
summary is in its row): the Prometheus sink sums them, so no second per-lead map is kept. A
partition is the unit of ownership: it is restored from its changelog rows, and dropped
whole when revoked.

A batch is grouped by lead before anything is evaluated: a lead with five events in one
batch is loaded, assessed, encoded and written once, not five times.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, NamedTuple, Protocol, TypeVar
from zoneinfo import ZoneInfo

import orjson
from mypy_extensions import mypyc_attr

from stream_sla.sla.availability import Absence, Availability
from stream_sla.sla.deadlines import DeadlineIndex, Due
from stream_sla.sla.effects import Effect, MqlDelivered
from stream_sla.sla.events import Event, EventKind, EventRejected, check_event_time, decode_event
from stream_sla.sla.lead import Added, Assessment, LeadState, LeadSummary
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import dump_state, load_header, load_state

Changes = dict[int, dict[str, bytes | None]]
"""Changed rows per partition, newest value per key; ``None`` is a deletion (a tombstone)."""


class RecordLike(Protocol):
    """What the engine needs of a Kafka record (the adapter's record type has more)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes: ...


R = TypeVar("R", bound=RecordLike)


class Placed(NamedTuple):
    """A decoded event on its partition, from its topic."""

    partition: int
    topic: str
    kind: EventKind
    event: Event


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a lead's state is kept after its cycle closed, or after it went quiet."""

    closed_ms: int = 7 * 86_400_000
    idle_ms: int = 90 * 86_400_000


@mypyc_attr(native_class=False)  # a generic dataclass: mypyc cannot make it a native class
@dataclass(slots=True)
class Outcome(Generic[R]):
    """What one command (a batch, a deadline sweep, a restore, a drop) asks of the adapter."""

    effects: list[Effect] = field(default_factory=list)
    """In the order the core decided them: publish, count, show."""
    dead_letters: list[tuple[R, EventRejected]] = field(default_factory=list)
    gauges: list[tuple[str, int, LeadSummary | None]] = field(default_factory=list)
    """(lead, partition, new contribution or None): the open-lead gauges' increments."""
    consumed: Counter[str] = field(default_factory=Counter)
    """Records read, by topic."""
    duplicates: Counter[str] = field(default_factory=Counter)
    limited: Counter[str] = field(default_factory=Counter)
    """Events that met a per-lead limit, by ``<kind>_over_limit`` / ``<kind>_folded``."""
    evicted: list[tuple[str, bytes]] = field(default_factory=list)
    """Leads forgotten after their retention, with their last row (a replay keeps it)."""
    newest_event_at: int = 0
    """The newest event time applied (0: none)."""


@dataclass(slots=True)
class StateChanges:
    """The state rows changed since the last :meth:`SlaEngine.take_changes`, per partition."""

    leads: Changes = field(default_factory=dict)
    tallies: Changes = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.leads.values()) or any(self.tallies.values())


class Settled(NamedTuple):
    """A lead changed since the last flush, decoded, with what its row will say."""

    state: LeadState
    wake_at: int | None
    summary: LeadSummary | None


_UNWRITTEN = b""
"""The row of a lead first settled since the last flush (its row is encoded at the flush)."""


class PartitionState:
    """One partition's leads (changelog rows, gauge summary included) and MQL tally rows.

    A lead changed since the last :meth:`flush` is held decoded in ``settled`` and encoded
    once at the flush (once per batch live; a replay flushes every few thousand events), so
    a lead touched by several events or deadlines in between is decoded and encoded once.
    ``leads`` has every lead's key; a settled lead's row there is stale until the flush.
    """

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self.leads: dict[str, bytes] = {}
        self.settled: dict[str, Settled] = {}
        self.tally: dict[tuple[str, str], tuple[int, float]] = {}
        self.lead_changes: dict[str, bytes | None] = {}
        self.tally_changes: dict[str, bytes | None] = {}

    def restore(self, leads: Mapping[str, bytes], tallies: Mapping[str, bytes]) -> None:
        """Install what recovery read from the two changelogs (rows as written)."""
        self.leads = dict(leads)
        self.settled.clear()
        for key, raw in tallies.items():
            month, source, owner = key.rsplit("|", 2)
            if int(owner) == self.partition:
                count, value = orjson.loads(raw)
                self.tally[(month, source)] = (int(count), float(value))

    def write_lead(self, lead_id: str, row: bytes) -> None:
        self.settled.pop(lead_id, None)
        self.leads[lead_id] = row
        self.lead_changes[lead_id] = row

    def settle_lead(self, settled: Settled) -> None:
        """Hold a changed lead decoded until the next :meth:`flush` writes its row."""
        lead_id = settled.state.lead_id
        self.settled[lead_id] = settled
        self.leads.setdefault(lead_id, _UNWRITTEN)

    def delete_lead(self, lead_id: str) -> None:
        self.settled.pop(lead_id, None)
        if self.leads.pop(lead_id, None) is not None:
            self.lead_changes[lead_id] = None

    def decoded(self, lead_id: str) -> LeadState | None:
        """The lead's state: the one held since its last change, or decoded from its row."""
        held = self.settled.get(lead_id)
        if held is not None:
            return held.state
        raw = self.leads.get(lead_id)
        return load_state(lead_id, raw) if raw is not None else None

    def flush(self) -> None:
        """Encode the rows of the leads changed since the last flush."""
        if not self.settled:
            return
        for lead_id, (state, wake_at, summary) in self.settled.items():
            row = dump_state(state, wake_at, summary)
            self.leads[lead_id] = row
            self.lead_changes[lead_id] = row
        self.settled.clear()

    def count_mql(self, month: str, source: str, weight: float) -> None:
        count, value = self.tally.get((month, source), (0, 0.0))
        row = (count + 1, value + weight)
        self.tally[(month, source)] = row
        self.tally_changes[f"{month}|{source}|{self.partition}"] = orjson.dumps(row)


class SlaEngine(Generic[R]):
    def __init__(
        self,
        policy: Policy,
        retention: Retention = Retention(),
        source_label: Callable[[str | None], str] = lambda source: source or "unknown",
        availability: Availability | None = None,
    ) -> None:
        """``source_label`` names an MQL's source in the tally rows (the worker passes its
        bounded Prometheus label, so a row's key is the series it feeds). ``availability``:
        owners' working hours and absences (rules with ``owner_away`` read them)."""
        self.policy = policy
        self.retention = retention
        self.source_label = source_label
        self.partitions: dict[int, PartitionState] = {}
        self.index = DeadlineIndex()
        self._zone = ZoneInfo(policy.marketing.timezone)
        self.availability = availability if availability is not None else Availability()
        self._follows_people = policy.follows_people()
        self._owned: dict[str, set[tuple[int, str]]] = {}
        """Open leads by current owner (only when a rule follows people): whom to wake when
        an owner's availability changes."""
        self._owner_of: dict[tuple[int, str], str] = {}

    # -- queries -----------------------------------------------------------------

    def __len__(self) -> int:
        """Leads held, over all partitions."""
        return sum(len(p.leads) for p in self.partitions.values())

    def owns(self, partition: int) -> bool:
        return partition in self.partitions

    def lead_row(self, partition: int, lead_id: str) -> bytes | None:
        part = self.partitions.get(partition)
        if part is None:
            return None
        part.flush()
        return part.leads.get(lead_id)

    def lead_rows(self, partition: int) -> Iterator[tuple[str, bytes]]:
        part = self.partitions.get(partition)
        if part is None:
            return iter(())
        part.flush()
        return iter(part.leads.items())

    def tally_row(self, partition: int, key: str) -> bytes | None:
        """A tally row's current value, by its changelog key (``month|source|partition``)."""
        part = self.partitions.get(partition)
        if part is None:
            return None
        month, source, _ = key.rsplit("|", 2)
        row = part.tally.get((month, source))
        return orjson.dumps(row) if row is not None else None

    def mql_rows(self) -> Iterator[tuple[str, str, int, float]]:
        """(month, source, count, weighted value) per owned partition's tally row."""
        for part in self.partitions.values():
            for (month, source), (count, value) in part.tally.items():
                yield month, source, count, value

    def month(self, epoch_ms: int) -> str:
        """The calendar month of an instant in marketing's time zone (a tally row's month)."""
        local = datetime.fromtimestamp(epoch_ms / 1000, tz=self._zone)
        return f"{local.year}-{local.month:02d}"  # strftime("%Y-%m") at a third of the cost

    def pop_due(self, now: int, horizon: Callable[[int], int | None] | None = None) -> list[Due]:
        return self.index.pop_due(now, horizon)

    # -- commands ----------------------------------------------------------------

    def apply(self, records: Iterable[tuple[EventKind, R]], now: int) -> Outcome[R]:
        """A batch of CRM records, in offset order per partition, received at ``now``."""
        outcome: Outcome[R] = Outcome()
        lateness = self.policy.lateness
        events: list[Placed] = []
        for kind, record in records:
            outcome.consumed[record.topic] += 1
            try:
                event = decode_event(kind, record.key, record.value)
                check_event_time(event, now, lateness.max_late_ms, lateness.max_future_ms)
            except EventRejected as rejected:
                outcome.dead_letters.append((record, rejected))
                continue
            events.append(Placed(record.partition, record.topic, kind, event))
        return self.apply_events(events, now, outcome)

    def apply_events(
        self, events: Iterable[Placed], now: int, outcome: Outcome[R] | None = None
    ) -> Outcome[R]:
        """Decoded events, each on its partition, received at ``now`` (a replay's entry: its
        events are decoded and time-checked as they are read)."""
        if outcome is None:
            outcome = Outcome()
        leads: dict[str, tuple[int, list[tuple[str, EventKind, Event]]]] = {}
        for placed in events:
            event = placed.event
            entry = leads.get(event.lead_id)
            if entry is None:
                leads[event.lead_id] = (placed.partition, [(placed.topic, placed.kind, event)])
            else:
                entry[1].append((placed.topic, placed.kind, event))

        for lead_id, (partition, lead_events) in leads.items():
            state = self._load(partition, lead_id)
            if state is None:
                state = LeadState(lead_id)
            changed = False
            for topic, kind, event in lead_events:
                added = state.add_fact(event)
                if added is Added.NEW or added is Added.FOLDED:
                    changed = True
                    outcome.newest_event_at = max(outcome.newest_event_at, event.occurred_at)
                if added is Added.DUPLICATE:
                    outcome.duplicates[topic] += 1
                elif added is not Added.NEW:
                    outcome.limited[f"{kind.value.replace('-', '_')}_{added.value}"] += 1
            if changed:
                assessment = self._take_assessment(state, None, seen_at=now)
                self._settle(state, partition, assessment, outcome, write=True)
        return outcome

    def fire(self, due: Iterable[Due], now: int) -> Outcome[R]:
        """Deadlines fell due: emit what is due, or forget leads whose retention ran out.

        Only call with a ``now`` up to which the partitions' input has been applied.
        """
        outcome: Outcome[R] = Outcome()
        for deadline in due:
            state = self._load(deadline.partition, deadline.lead_id)
            if state is None:
                continue  # evicted already: nothing can be due
            assessment = self._take_assessment(state, now)
            nothing_due = assessment.next_deadline is None or assessment.next_deadline > now
            if not assessment.effects and nothing_due and now >= assessment.evict_at:
                self._evict(state.lead_id, deadline.partition, outcome)
                continue
            self._settle(
                state, deadline.partition, assessment, outcome, write=assessment.emitted_changed
            )
        return outcome

    def apply_absences(self, absences: Iterable[Absence], now: int) -> int:
        """Versions of owners' absences (the ``crm.owner-availability`` global table) at ``now``.

        Leads held by an owner whose availability changed are woken at ``now``: the next
        deadline sweep re-evaluates them (a cancelled absence can make a deadline due at
        once). Returns how many versions changed anything.
        """
        changed = 0
        for absence in absences:
            if self.availability.apply(absence):
                changed += 1
                for partition, lead_id in self._owned.get(absence.owner, ()):
                    self.index.schedule(lead_id, partition, now)
        return changed

    def restore(
        self, partition: int, leads: Mapping[str, bytes], tallies: Mapping[str, bytes]
    ) -> Outcome[R]:
        """Take a partition's changelog rows (recovery read them): its deadlines and gauge
        contributions come from the wake-up and summary written with each row; no lead is
        evaluated."""
        outcome: Outcome[R] = Outcome()
        part = self.partitions.setdefault(partition, PartitionState(partition))
        part.restore(leads, tallies)
        wakes: list[tuple[str, int | None]] = []
        gauges = outcome.gauges
        for lead_id, raw in part.leads.items():
            wake, summary = load_header(raw)
            wakes.append((lead_id, wake))
            gauges.append((lead_id, partition, summary))
            if self._follows_people:
                self._track(lead_id, partition, summary)
        self.index.schedule_many(partition, wakes)
        return outcome

    def drop(self, partitions: Iterable[int]) -> Outcome[R]:
        """Forget revoked partitions (their changes were taken before the revocation)."""
        outcome: Outcome[R] = Outcome()
        gone = set(partitions)
        self.index.drop_partitions(gone)
        for partition in gone:
            part = self.partitions.pop(partition, None)
            if part is not None:
                outcome.gauges.extend((lead, partition, None) for lead in part.leads)
                if self._follows_people:
                    for lead in part.leads:
                        self._track(lead, partition, None)
        return outcome

    def take_changes(self) -> StateChanges:
        """The rows changed since the last call, per partition, and forget them."""
        changes = StateChanges()
        for partition, part in self.partitions.items():
            part.flush()
            if part.lead_changes:
                changes.leads[partition], part.lead_changes = part.lead_changes, {}
            if part.tally_changes:
                changes.tallies[partition], part.tally_changes = part.tally_changes, {}
        return changes

    # -- the work ----------------------------------------------------------------

    def _take_assessment(
        self, state: LeadState, now: int | None, seen_at: int | None = None
    ) -> Assessment:
        return state.take_assessment(
            self.policy,
            now,
            self.retention.closed_ms,
            self.retention.idle_ms,
            seen_at,
            self.availability,
        )

    def _track(self, lead_id: str, partition: int, summary: LeadSummary | None) -> None:
        """Keep the owner index of open leads (for :meth:`apply_absences`)."""
        key = (partition, lead_id)
        owner = summary.owner if summary is not None else None
        before = self._owner_of.get(key)
        if before == owner:
            return
        if before is not None:
            self._owned[before].discard(key)
            del self._owner_of[key]
        if owner is not None:
            self._owned.setdefault(owner, set()).add(key)
            self._owner_of[key] = owner

    def _settle(
        self,
        state: LeadState,
        partition: int,
        assessment: Assessment,
        outcome: Outcome[R],
        write: bool,
    ) -> None:
        part = self.partitions.get(partition)
        if part is None:  # not setdefault: that would build a PartitionState per lead settled
            part = self.partitions[partition] = PartitionState(partition)
        for effect in assessment.effects:
            outcome.effects.append(effect)
            if isinstance(effect, MqlDelivered):
                source = self.source_label(effect.source)
                part.count_mql(self.month(effect.created_at), source, effect.weight)
        wake = assessment.wake_at
        if write:
            part.settle_lead(Settled(state, wake, assessment.summary))
        self.index.schedule(state.lead_id, partition, wake)
        outcome.gauges.append((state.lead_id, partition, assessment.summary))
        if self._follows_people:
            self._track(state.lead_id, partition, assessment.summary)

    def _evict(self, lead_id: str, partition: int, outcome: Outcome[R]) -> None:
        part = self.partitions[partition]
        held = part.settled.get(lead_id)
        row = dump_state(*held) if held is not None else part.leads.get(lead_id)
        part.delete_lead(lead_id)
        self.index.schedule(lead_id, partition, None)
        outcome.gauges.append((lead_id, partition, None))
        if self._follows_people:
            self._track(lead_id, partition, None)
        if row is not None:
            outcome.evicted.append((lead_id, row))

    def _load(self, partition: int, lead_id: str) -> LeadState | None:
        part = self.partitions.get(partition)
        return part.decoded(lead_id) if part is not None else None
