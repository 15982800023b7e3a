"""Offline replay: the live engine over a file of CRM events, with event time as the clock.

Events may come in any order: they are sorted by event time first (ties in the
causal order created -> handed -> attempt -> status). Before an event at time t
is applied, every deadline strictly before t fires, so an attempt exactly at a
deadline still meets it, as it does live. The worker's own engine
(:class:`~stream_sla.sla.engine.SlaEngine`) and policy decide everything, which is
why a replay reproduces the worker's breach ids.

Input: JSON Lines (optionally .gz, or ``-`` for stdin), one CRM event per line
with its kind in ``type`` (``lead-created``, ``handed-to-sales``,
``contact-attempt``, ``lead-status-changed``), or ``{"topic": "crm.<kind>",
"value": {...}}`` as dumped from Kafka. Owners' absences (type ``owner-availability``, or
topic ``crm.owner-availability``) may be in the same file: they are a global table, applied
before the first event (an absence counts from when it was recorded, so knowing it early
changes nothing), as the worker reads its whole topic before it decides. Lines that are not
valid events are counted by reason and skipped, as the worker dead-letters them.

Lateness: the file's order is its arrival order, and the replay's clock for an event is
the newest event time read so far from the same topic (kind). An event older than that
by more than the policy's ``lateness.max_late`` is refused as ``too_late``, as the live
worker would have refused it on arrival; so replay and live agree on old events. (A
per-topic clock lets a dump of the four topics one after another replay as well as a
merged one.) There is no wall clock in a file, so ``max_future`` is not applied.
"""

from __future__ import annotations

import gc
import gzip
import re
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from aiokafka.partitioner import murmur2

from stream_sla.sla.availability import Absence, Availability, absence_from_object
from stream_sla.sla.effects import Effect, Rule
from stream_sla.sla.engine import Outcome, Placed, RecordLike, Retention, SlaEngine
from stream_sla.sla.events import (
    ContactAttempt,
    Event,
    EventKind,
    EventRejected,
    HandedToSales,
    LeadCreated,
    LeadStatusChanged,
    RejectReason,
    check_event_time,
    event_from_object,
    parse_timestamp,
)
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import Lateness, Policy
from stream_sla.sla.rollups import Rollup
from stream_sla.sla.snapshot import load_state

DEFAULT_LATENESS = Lateness()

_KIND_ORDER = {
    EventKind.LEAD_CREATED: 0,
    EventKind.HANDED_TO_SALES: 1,
    EventKind.CONTACT_ATTEMPT: 2,
    EventKind.LEAD_STATUS_CHANGED: 3,
}


@dataclass
class ReplayResult:
    policy: Policy
    rollup: Rollup
    effects: list[Effect] = field(default_factory=list)
    events: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    leads: int = 0
    seconds: float = 0.0
    first_event_at: int | None = None
    last_event_at: int | None = None
    duplicates: int = 0
    """Events whose event_id was already applied (ignored, as the worker ignores them)."""
    until: int = 0
    """The clock at the end: deadlines up to here fired, later ones are still pending."""
    states: dict[str, LeadState] = field(default_factory=dict)
    """Each lead's facts and what was emitted, for per-cycle outcomes and funnel actuals."""
    availability: Availability = field(default_factory=Availability)
    """Owners' hours and absences the replay applied (the report's rows read them too)."""


class ReplayInputError(ValueError):
    """An events file or flag the replay cannot use; the message names it and the fix."""


class Replay:
    """Feed events in event-time order; ``finish(until)`` fires what is due by then.

    Drives the worker's :class:`SlaEngine` with event time as the clock: each event lands
    on the partition the producer's default partitioner gives its key (``partitions`` of
    them) and deadlines fire strictly before the next event; so a replay decides what the
    live worker decides, evicting leads as the worker does (``retention``: the worker's
    defaults unless given; a lead re-opened after its closed state was evicted starts again,
    live and offline alike). The report still reads every lead's cycles: an evicted lead's
    last row is kept aside for it.
    """

    def __init__(
        self,
        policy: Policy,
        keep_effects: bool = False,
        partitions: int = 1,
        retention: Retention | None = None,
        availability: Availability | None = None,
    ) -> None:
        self.policy = policy
        self.engine: SlaEngine[RecordLike] = SlaEngine(
            policy, retention or Retention(), availability=availability
        )
        self.partitions = partitions
        self.evicted: dict[str, bytes] = {}
        """The last row of each lead the engine forgot (the report still reads its cycles)."""
        self.result = ReplayResult(policy, Rollup(policy.marketing.timezone))
        self._keep = keep_effects

    def apply(self, event: Event) -> None:
        self._fire_until(event.occurred_at - 1)
        kind = _kind(event)
        partition = default_partition(event.lead_id.encode(), self.partitions)
        placed = Placed(partition, _TOPIC[kind], kind, event)
        outcome = self.engine.apply_events([placed], event.occurred_at)
        if outcome.newest_event_at == 0:
            self.result.duplicates += 1  # a duplicate, or over a per-lead limit: no change
        self._record(outcome)
        self.result.events += 1
        if self.result.events % FLUSH_EVERY == 0:
            self.engine.take_changes()  # no changelog offline: the rows stay in memory

    def finish(self, until: int) -> ReplayResult:
        self._fire_until(until)
        states = {lead_id: load_state(lead_id, row) for lead_id, row in self.evicted.items()}
        for partition in sorted(self.engine.partitions):
            for lead_id, row in self.engine.lead_rows(partition):
                states[lead_id] = load_state(lead_id, row)
        for state in states.values():
            for handoff, attempts in state.unconnected_attempts():
                self.result.rollup.add_unconnected(handoff.team, handoff.owner, attempts)
        self.result.leads = len(states)
        self.result.states = states
        self.result.availability = self.engine.availability
        self.result.until = until
        return self.result

    def _fire_until(self, now: int) -> None:
        while due := self.engine.pop_due(now):
            for deadline in due:
                self._record(self.engine.fire([deadline], deadline.at))

    def _record(self, outcome: Outcome[RecordLike]) -> None:
        for effect in outcome.effects:
            self.result.rollup.add(effect)
        if self._keep:
            self.result.effects.extend(outcome.effects)
        self.evicted.update(outcome.evicted)


FLUSH_EVERY = 32_768
"""Events between two flushes of the engine's changed leads to rows: a lead touched again
within them is not decoded and encoded again; at most this many leads are held decoded."""


KEEP_EVERY_LEAD = Retention(closed_ms=10**15, idle_ms=10**15)
"""About 31,000 years: nothing is evicted within a replay."""


def default_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java client and aiokafka) gives a key."""
    if partitions == 1:
        return 0  # a replay's default: no hash per event
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


AVAILABILITY = "owner-availability"


def read_events(
    lines: Iterable[bytes],
    rejected: Counter[str],
    lateness: Lateness = DEFAULT_LATENESS,
    absences: list[Absence] | None = None,
) -> list[Event]:
    """Decode JSON Lines into events sorted for replay; bad lines are counted, not fatal.
    Owners' absences go to ``absences`` (refused as an unknown topic when it is None)."""
    events: list[Event] = []
    newest: dict[type, int] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
            if absences is not None and _is_absence(obj):
                absences.append(absence_from_object(None, obj.get("value", obj)))
                continue
            event = _event(obj)
            clock = max(newest.get(type(event), event.occurred_at), event.occurred_at)
            newest[type(event)] = clock
            check_event_time(event, clock, lateness.max_late_ms, lateness.max_future_ms)
            events.append(event)
        except orjson.JSONDecodeError:
            rejected["invalid_json"] += 1
        except EventRejected as exc:
            rejected[exc.reason.value] += 1
    events.sort(key=_sort_key)
    return events


def _is_absence(obj: Any) -> bool:
    return isinstance(obj, dict) and (
        obj.get("type") == AVAILABILITY or obj.get("topic") == f"crm.{AVAILABILITY}"
    )


def _event(obj: Any) -> Event:
    if isinstance(obj, dict) and "value" in obj and "topic" in obj:
        kind_text = str(obj["topic"]).rsplit("crm.", 1)[-1]
        obj = obj["value"]
    elif isinstance(obj, dict):
        kind_text = str(obj.get("type"))
    else:
        raise EventRejected(RejectReason.NOT_AN_OBJECT, "expected a JSON object per line")
    try:
        kind = EventKind(kind_text)
    except ValueError:
        raise EventRejected(
            RejectReason.UNKNOWN_TOPIC, f"unknown event type {kind_text!r}"
        ) from None
    return event_from_object(kind, None, obj)


_KIND_OF: dict[type, EventKind] = {
    LeadCreated: EventKind.LEAD_CREATED,
    HandedToSales: EventKind.HANDED_TO_SALES,
    ContactAttempt: EventKind.CONTACT_ATTEMPT,
    LeadStatusChanged: EventKind.LEAD_STATUS_CHANGED,
}
_TOPIC = {kind: f"crm.{kind.value}" for kind in EventKind}
_SORT_RANK = {cls: _KIND_ORDER[kind] for cls, kind in _KIND_OF.items()}


def _sort_key(event: Event) -> tuple[int, int, str]:
    """Event time, then the causal order of kinds, then the id: a replay's order."""
    rank = _SORT_RANK.get(type(event))
    if rank is None:
        rank = _KIND_ORDER[_kind(event)]
    return event.occurred_at, rank, event.event_id


def _kind(event: Event) -> EventKind:
    kind = _KIND_OF.get(type(event))  # one lookup per event; subclasses take the long way
    if kind is not None:
        return kind
    if isinstance(event, LeadCreated):
        return EventKind.LEAD_CREATED
    if isinstance(event, HandedToSales):
        return EventKind.HANDED_TO_SALES
    if isinstance(event, ContactAttempt):
        return EventKind.CONTACT_ATTEMPT
    return EventKind.LEAD_STATUS_CHANGED


def load_events(
    source: str,
    rejected: Counter[str],
    translate: Callable[[Iterable[bytes]], Iterable[bytes]] | None = None,
    lateness: Lateness = DEFAULT_LATENESS,
    absences: list[Absence] | None = None,
) -> list[Event]:
    """Read and sort an events file; a file that cannot be read raises ReplayInputError.

    ``translate`` turns the file's lines into canonical event lines first (raw CRM payloads
    through the gateway's translators, for ``--from``).

    Bad lines are counted in ``rejected``, as the worker dead-letters them; but a
    file without a single usable line is almost always the wrong file, so it stops.
    """
    fix = "give a JSON Lines file of CRM events (.gz ok), or - for stdin"
    try:
        with open_lines(source) as lines:
            events = read_events(
                translate(lines) if translate else lines, rejected, lateness, absences
            )
    except FileNotFoundError:
        raise ReplayInputError(f"{source}: no such file ({fix})") from None
    except IsADirectoryError:
        raise ReplayInputError(f"{source}: is a directory ({fix})") from None
    except PermissionError:
        raise ReplayInputError(f"{source}: permission denied (make it readable)") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ReplayInputError(
            f"{source}: not a readable gzip file ({exc}; gunzip -t it, or drop .gz if it is plain)"
        ) from None
    if not events and not rejected:
        raise ReplayInputError(f"{source}: holds no events (an empty file? {fix})")
    if not events:
        counts = ", ".join(f"{n:,} {reason}" for reason, n in rejected.most_common())
        raise ReplayInputError(
            f"{source}: no line is a CRM event ({counts}); expected one JSON object per line"
            " with type, event_id, lead_id and occurred_at"
        )
    return events


def parse_until(value: str) -> int:
    """``--until`` as epoch ms: RFC 3339 with an explicit offset, as every event time is."""
    try:
        return parse_timestamp(value, "--until")
    except EventRejected as exc:
        example = "write e.g. 2026-11-01T00:00:00Z or 2026-11-01T00:00:00-05:00"
        if "offset" in exc.detail:
            raise ReplayInputError(f"--until: {value!r} has no UTC offset ({example})") from None
        raise ReplayInputError(f"--until: {value!r} is not an RFC 3339 time ({example})") from None


def parse_month(value: str) -> str:
    """``--month``: a calendar month as YYYY-MM (the marketing time zone decides the days)."""
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        return value
    raise ReplayInputError(f"--month: {value!r} is not a month as YYYY-MM (write e.g. 2026-10)")


def open_lines(source: str) -> IO[bytes]:
    if source == "-":
        return sys.stdin.buffer
    path = Path(source)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def replay(
    events: list[Event],
    policy: Policy,
    until: int | None = None,
    keep_effects: bool = False,
    progress: bool = False,
    retention: Retention | None = None,
    partitions: int = 1,
    availability: Availability | None = None,
    absences: Iterable[Absence] = (),
) -> ReplayResult:
    """``retention``: how long leads are kept (default: the worker's, see :class:`Replay`);
    ``availability``: owners' working hours, ``absences`` their absences (applied first)."""
    started = time.perf_counter()
    engine = Replay(policy, keep_effects, partitions, retention, availability)
    engine.engine.apply_absences(absences, events[0].occurred_at if events else 0)
    with _fewer_collections():
        for event in _progress(events, progress):
            engine.apply(event)
        end = until if until is not None else (events[-1].occurred_at if events else 0)
        result = engine.finish(end)
    result.seconds = time.perf_counter() - started
    if events:
        result.first_event_at, result.last_event_at = events[0].occurred_at, events[-1].occurred_at
    return result


REPLAY_GC_THRESHOLD = 100_000
"""Allocations between two young-generation collections during a replay (CPython's default
is 700). The engine makes few reference cycles, but it holds up to ``FLUSH_EVERY`` changed
leads decoded, and each collection walks the young objects: at the default, cyclic GC was
about 8% of a replay's CPU time (issue 13)."""


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect the young generation less often while replaying; restore the threshold after."""
    before = gc.get_threshold()
    gc.set_threshold(REPLAY_GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _progress(events: list[Event], enabled: bool) -> Iterator[Event]:
    """A one-line progress bar on stderr when it is a terminal; nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield from events
        return
    total = len(events)
    last = 0.0
    for n, event in enumerate(events, 1):
        yield event
        now = time.monotonic()
        if now - last > 0.2 or n == total:
            last = now
            filled = int(30 * n / total)
            sys.stderr.write(f"\rreplay [{'#' * filled}{'.' * (30 - filled)}] {n:,}/{total:,}")
            sys.stderr.flush()
    sys.stderr.write("\n")


def compliance_targets(policy: Policy) -> dict[Rule, float]:
    """The strictest compliance target any segment sets per rule (for the renegotiate flag)."""
    targets: dict[Rule, float] = {}
    for segment in policy.segments:
        for rule, config in (
            (Rule.FIRST_TOUCH, segment.first_touch),
            (Rule.ATTEMPTS, segment.attempts),
            (Rule.DISPOSITION, segment.disposition),
        ):
            if config is not None:
                targets[rule] = max(targets.get(rule, 0.0), config.compliance_target)
    return targets
