"""Owners' availability: working hours and absences, and the SLA clocks that follow them.

A rep on holiday should not collect breaches, and a lead should not wait for a rep who is
away (speed-to-lead routers take a rep offline). Working hours come from the people
directory (per owner, in the owner's time zone); absences come from the
``crm.owner-availability`` topic. Per rule the policy chooses what an owner's absence does
(:class:`OwnerAway`): nothing (the team calendar runs the clock, the default), stop the clock
(it follows the owner's hours), or escalate after a grace period (a re-route record).

Absences are facts with event time, so replay and live agree: an absence counts from
``max(starts_at, recorded_at)`` (an absence recorded late cannot take back a breach already
owed) until ``ends_at``; of several versions of one absence (same ``absence_id``), the one
with the newest ``occurred_at`` holds, and a cancelled one counts for nothing.

Pure: no Kafka, no clock. The engine keeps one :class:`Availability` per worker (every
worker reads the whole topic: absences are per owner, leads are partitioned by lead id).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Any

import orjson

from stream_sla.sla.calendar import Calendar, CalendarError
from stream_sla.sla.effects import OwnerShare
from stream_sla.sla.events import (
    MAX_EVENT_BYTES,
    EventRejected,
    RejectReason,
    parse_timestamp,
)

FOREVER = 2**62
"""An open end: later than any instant a clock reaches."""

Interval = tuple[int, int]

MAX_ABSENCE_MS = 366 * 86_400_000
"""Longer absences are refused: a clock that waits for an owner must find them back within the
calendar's search horizon (three years)."""


class OwnerAway(enum.StrEnum):
    """What a rule's clock does while the lead's owner is away (absent, or off their hours)."""

    TEAM_CALENDAR = "team_calendar"
    """The clock runs on the rule's calendar whoever is away: the team covers (the default)."""
    FOLLOW_OWNER_HOURS = "follow_owner_hours"
    """The clock runs only while the owner holding the lead works: their hours (in their own
    zone) instead of the rule's calendar, minus absences; an owner without hours in the
    directory keeps the rule's calendar, minus absences."""
    ESCALATE = "escalate"
    """The clock runs on the rule's calendar; after ``grace`` of it with the owner away and
    the promise still open, a re-route record goes out (``sla.reroutes``)."""


@dataclass(frozen=True, slots=True)
class Absence:
    """One version of an owner's absence (holiday, sick day, training), as the CRM or HR
    tool published it."""

    event_id: str
    absence_id: str
    owner: str
    starts_at: int
    ends_at: int
    occurred_at: int
    """When this version was recorded; the newest version of an absence holds."""
    recorded_at: int
    """When the absence was first recorded: it counts from then at the earliest."""
    cancelled: bool = False

    def interval(self) -> Interval | None:
        """The time the absence counts for (None: cancelled, or nothing left)."""
        begin = max(self.starts_at, self.recorded_at)
        if self.cancelled or self.ends_at <= begin:
            return None
        return begin, self.ends_at


@dataclass(slots=True)
class Availability:
    """Every owner's working hours (a calendar in the owner's zone) and absences.

    An owner without hours works around the clock (only absences take them away); an owner
    nobody listed likewise. Mutable: the worker applies absence records as they arrive.
    """

    hours: Mapping[str, Calendar] = field(default_factory=dict)
    _absences: dict[str, Absence] = field(default_factory=dict)
    _away: dict[str, tuple[Interval, ...]] = field(default_factory=dict)

    def apply(self, absence: Absence) -> bool:
        """Take a version of an absence; False when an equal or newer version is known."""
        known = self._absences.get(absence.absence_id)
        if known is not None and (known.occurred_at, known.event_id) >= (
            absence.occurred_at,
            absence.event_id,
        ):
            return False
        self._absences[absence.absence_id] = absence
        self._rebuild(absence.owner)
        if known is not None and known.owner != absence.owner:
            self._rebuild(known.owner)
        return True

    def always_available(self, segments: Sequence[Holder]) -> bool:
        """No holder has working hours or an absence: every clock is the rule's calendar."""
        return not any(owner in self.hours or owner in self._away for _, _, owner in segments)

    def absences(self) -> Iterator[Absence]:
        """The newest version of every absence (what a snapshot of the topic holds)."""
        return iter(self._absences.values())

    def away(self, owner: str) -> tuple[Interval, ...]:
        """The owner's absences, merged and sorted."""
        return self._away.get(owner, ())

    def available(
        self, owner: str, start: int, until: int = FOREVER, otherwise: Calendar | None = None
    ) -> Iterator[Interval]:
        """Intervals from ``start`` (to about ``until``) in which the owner works: their hours
        (``otherwise`` for an owner without hours; None: around the clock) minus absences."""
        calendar = self.hours.get(owner, otherwise)
        working: Iterator[Interval] = (
            iter(((start, FOREVER),))
            if calendar is None
            else _calendar_intervals(calendar, start, until)
        )
        return difference(working, iter(self.away(owner)))

    def _rebuild(self, owner: str) -> None:
        spans = sorted(
            span
            for a in self._absences.values()
            if a.owner == owner and (span := a.interval()) is not None
        )
        merged: list[Interval] = []
        for begin, end in spans:
            if merged and begin <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((begin, end))
        if merged:
            self._away[owner] = tuple(merged)
        else:
            self._away.pop(owner, None)


NOBODY_AWAY = Availability()


# -- interval arithmetic over sorted, disjoint, lazily generated intervals ----------------------


def _calendar_intervals(calendar: Calendar, start: int, until: int = FOREVER) -> Iterator[Interval]:
    """The calendar's open intervals from ``start``, stopping at the first one past ``until``
    (a walk that finds nothing must not search the calendar's three years)."""
    if calendar.always_open:
        return iter(((start, FOREVER),))
    return takewhile(lambda interval: interval[0] < until, calendar._open_intervals_from(start))


def difference(a: Iterator[Interval], b: Iterator[Interval]) -> Iterator[Interval]:
    """``a`` with every interval of ``b`` cut out."""
    y = next(b, None)
    for low, high in a:
        while y is not None and y[1] <= low:
            y = next(b, None)
        while y is not None and y[0] < high:
            if y[0] > low:
                yield low, y[0]
            low = max(low, y[1])
            if low >= high:
                break
            y = next(b, None)
        if low < high:
            yield low, high


# -- clocks ----------------------------------------------------------------------------------


Holder = tuple[int, int, str]
"""(from, to, owner): who held the lead when; ``to`` is :data:`FOREVER` for the last one."""


def holders(handoffs: Sequence[Any]) -> tuple[Holder, ...]:
    """Owner segments of a cycle from its hand-offs (``at``, ``owner`` fields, sorted)."""
    found: list[Holder] = []
    for position, handoff in enumerate(handoffs):
        end = handoffs[position + 1].at if position + 1 < len(handoffs) else FOREVER
        if found and found[-1][2] == handoff.owner:
            found[-1] = (found[-1][0], end, handoff.owner)
        elif end > handoff.at or end == FOREVER:
            found.append((handoff.at, end, handoff.owner))
    return tuple(found)


def _held(
    availability: Availability,
    segments: Sequence[Holder],
    start: int,
    until: int,
    otherwise: Calendar | None = None,
) -> Iterator[Interval]:
    """When the owner holding the lead is available, from ``start`` on."""
    for begin, end, owner in segments:
        if end <= start:
            continue
        for low, high in availability.available(owner, max(begin, start), until, otherwise):
            if low >= end:
                break
            yield low, min(high, end)


@dataclass(frozen=True, slots=True)
class IntervalClock:
    """A clock that runs inside the intervals ``walk(start)`` yields (same questions as a
    :class:`Calendar`, so pauses and rules use it unchanged)."""

    walk: Callable[[int, int], Iterator[Interval]]
    """(start, until) -> the intervals in which the clock runs, from start, to about until."""
    name: str = "owner"

    def deadline(self, start: int, duration: int) -> int:
        remaining = duration
        for low, high in self.walk(start, FOREVER):
            begin = max(low, start)
            if high <= begin:
                continue
            if remaining <= high - begin:
                return begin + remaining
            remaining -= high - begin
        raise CalendarError(f"clock {self.name!r} never runs {duration} ms after {start}")

    def deadline_before(self, start: int, duration: int, until: int) -> int | None:
        """:meth:`deadline` if it falls before ``until``, else None (a bounded search)."""
        remaining = duration
        for low, high in self.walk(start, until):
            begin = max(low, start)
            if begin >= until:
                return None
            if high <= begin:
                continue
            if remaining <= high - begin:
                due = begin + remaining
                return due if due < until else None
            remaining -= high - begin
        return None

    def open_between(self, start: int, end: int) -> int:
        if end <= start:
            return 0
        total = 0
        for low, high in self.walk(start, end):
            if low >= end:
                break
            total += max(0, min(high, end) - max(low, start))
        return total


def owner_clock(
    calendar: Calendar, availability: Availability, segments: Sequence[Holder]
) -> IntervalClock:
    """``follow_owner_hours``: the hours of the owner holding the lead (the rule's calendar
    for an owner without hours), minus their absences."""
    return IntervalClock(
        lambda start, until: _held(availability, segments, start, until, calendar),
        f"{calendar.name} or the owner's hours",
    )


def away_clock(
    calendar: Calendar, availability: Availability, segments: Sequence[Holder]
) -> IntervalClock:
    """``escalate``: the rule's calendar while the owner holding the lead does not work."""
    return IntervalClock(
        lambda start, until: difference(
            _calendar_intervals(calendar, start, until),
            _held(availability, segments, start, until),
        ),
        f"{calendar.name} with the owner away",
    )


# -- the topic's records -------------------------------------------------------------------------


def decode_absence(key: bytes | None, value: bytes) -> Absence:
    """One ``crm.owner-availability`` record (keyed by ``absence_id``), checked like CRM events:
    a record the core cannot trust raises :class:`EventRejected` (it is dead-lettered)."""
    if len(value) > MAX_EVENT_BYTES:
        raise EventRejected(RejectReason.OVERSIZED, f"{len(value)} bytes")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EventRejected(RejectReason.INVALID_JSON, str(exc)) from None
    return absence_from_object(key, obj)


def absence_from_object(key: bytes | None, obj: object) -> Absence:
    if not isinstance(obj, dict):
        raise EventRejected(RejectReason.NOT_AN_OBJECT, "expected a JSON object")
    texts = {}
    for name in ("event_id", "absence_id", "owner"):
        value = obj.get(name)
        if value is None:
            raise EventRejected(RejectReason.MISSING_FIELD, f"{name} is required")
        if not isinstance(value, str) or not value or len(value) > 256:
            raise EventRejected(RejectReason.WRONG_TYPE, f"{name}: expected a non-empty string")
        texts[name] = value
    if key is not None and key != texts["absence_id"].encode():
        raise EventRejected(
            RejectReason.KEY_MISMATCH,
            f"record key {key[:64]!r} is not the absence_id {texts['absence_id']!r}",
        )
    occurred_at = parse_timestamp(obj.get("occurred_at"))
    starts_at = parse_timestamp(obj.get("starts_at"), "starts_at")
    ends_at = parse_timestamp(obj.get("ends_at"), "ends_at")
    if ends_at <= starts_at:
        raise EventRejected(RejectReason.INVALID_VALUE, "ends_at must be after starts_at")
    if ends_at - starts_at > MAX_ABSENCE_MS:
        raise EventRejected(
            RejectReason.INVALID_VALUE,
            "an absence is at most 366 days (someone gone longer has left: take them out of"
            " the people directory and re-assign their leads)",
        )
    recorded = obj.get("recorded_at")
    recorded_at = occurred_at if recorded is None else parse_timestamp(recorded, "recorded_at")
    cancelled = obj.get("cancelled", False)
    if not isinstance(cancelled, bool):
        raise EventRejected(RejectReason.WRONG_TYPE, "cancelled: expected true or false")
    return Absence(
        texts["event_id"],
        texts["absence_id"],
        texts["owner"],
        starts_at,
        ends_at,
        occurred_at,
        min(recorded_at, occurred_at),
        cancelled,
    )


def owner_shares(
    segments: Sequence[Holder], clock: Any, start: int, end: int
) -> tuple[OwnerShare, ...]:
    """Each holder's part of [start, end] with the clock time it held (only when the lead
    changed hands in it: a single owner's record needs no split)."""
    shares = [
        OwnerShare(owner, max(begin, start), min(stop, end), 0)
        for begin, stop, owner in segments
        if begin < end and stop > start
    ]
    if len(shares) < 2:
        return ()
    return tuple(s._replace(business_ms=clock.open_between(s.held_from, s.held_to)) for s in shares)


def absences_applied(availability: Availability, absences: Iterable[Absence]) -> set[str]:
    """Apply several versions; the owners whose availability changed."""
    return {a.owner for a in absences if availability.apply(a)}
