"""The three sales-side service levels, each reduced to checkpoints on one hand-off cycle.

A checkpoint is a moment at which a promise falls due (``due_at``), the breach
deadline it belongs to, and the moment the promise was kept or became moot
(``satisfied_at``, from the facts alone). The engine in :mod:`lead` turns
checkpoints into warnings, breaches and the next deadline; rules never look at
the clock, so they cannot disagree between replay and live.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from stream_sla.sla.calendar import Calendar
from stream_sla.sla.calling_hours import move_into
from stream_sla.sla.effects import Rule, Severity
from stream_sla.sla.events import Outcome
from stream_sla.sla.policy import (
    EVERY_TOUCH,
    AttemptsRule,
    DispositionRule,
    FirstTouchRule,
    Touches,
    WarnAt,
)

Detail = tuple[tuple[str, int | str], ...]
Pauses = tuple[tuple[int, int | None], ...]
"""(from, to) instants a rule's clock stood still; ``to`` None: still paused."""

_new = tuple.__new__
"""Builds a checkpoint in C with every field given: a NamedTuple's own ``__new__`` is a Python
call, and an event builds about ten checkpoints per cycle of its lead."""

PAUSED = 2**62
"""``due_at`` of a checkpoint whose clock is paused with no end yet: it cannot fall due."""


class Checkpoint(NamedTuple):
    rule: Rule
    severity: Severity
    due_at: int
    deadline_at: int
    target_ms: int
    satisfied_at: int | None
    """When the promise was kept, or the cycle closed; None while it is still open."""
    by_closing: bool = False
    """The cycle closed before the promise was kept: moot, neither met nor breached."""
    detail: Detail = ()
    pauses: Pauses = ()
    """When the rule's clock stood still (statuses it pauses on), for the paused time reported."""


class Touch(Protocol):
    """A contact attempt as rules read it (the lead's kept attempts, without a copy)."""

    @property
    def at(self) -> int: ...
    @property
    def outcome(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def automated(self) -> bool: ...
    @property
    def duration_ms(self) -> int | None: ...


class Clock(Protocol):
    """What rules ask of a clock: a :class:`Calendar`, or one that follows the owner
    (:mod:`stream_sla.sla.availability`)."""

    def deadline(self, start: int, duration: int) -> int: ...
    def open_between(self, start: int, end: int) -> int: ...


class CycleFacts(NamedTuple):
    """What the rules need of one cycle, computed once per evaluation."""

    clock_start: int
    closed_at: int | None
    attempts: tuple[Touch, ...]
    """The cycle's attempts, sorted by time."""
    first_status_at: int | None
    statuses: tuple[tuple[int, str], ...] = ()
    """(time, status) of the cycle's status changes, sorted: what pauses read."""
    clock: Clock | None = None
    """The rule's clock when it follows the owner (owner_away); None: the rule's calendar."""
    calling: Calendar | None = None
    """The lead's calling hours (first touch and attempts deadlines move into them)."""


def qualifying(touches: Touches, facts: CycleFacts) -> tuple[Sequence[Touch], Sequence[Touch]]:
    """(the attempts that count for a rule, the ones kept but not counted)."""
    if touches is EVERY_TOUCH:
        for t in facts.attempts:
            if t.automated:
                break
        else:
            return facts.attempts, ()  # the default on the hot path: every rep attempt counts
    counted: list[Touch] = []
    other: list[Touch] = []
    for t in facts.attempts:
        (
            counted if touches.counts(t.channel, t.outcome, t.automated, t.duration_ms) else other
        ).append(t)
    return counted, other


def first_touch(rule: FirstTouchRule, facts: CycleFacts) -> list[Checkpoint]:
    counted, other = qualifying(rule.touches, facts)
    touch = counted[0].at if counted else None
    checkpoints = _deadline_rule(
        Rule.FIRST_TOUCH,
        rule.within_ms,
        facts.clock or rule.calendar,
        rule.warn,
        facts,
        touch,
        pauses(rule.pause_on, facts),
        facts.calling,
    )
    if not other:
        return checkpoints
    return [
        c._replace(detail=(("non_qualifying_attempts", sum(1 for t in other if t.at <= c.due_at)),))
        for c in checkpoints
    ]


def disposition(rule: DispositionRule, facts: CycleFacts) -> list[Checkpoint]:
    return _deadline_rule(
        Rule.DISPOSITION,
        rule.within_ms,
        facts.clock or rule.calendar,
        rule.warn,
        facts,
        facts.first_status_at,
        pauses(rule.pause_on, facts),
    )


def pauses(pause_on: frozenset[str], facts: CycleFacts) -> Pauses:
    """Intervals the lead spent in a status of ``pause_on``: from entering one until the next
    status outside the set (or, with none yet, open-ended). The end of the cycle ends them."""
    if not pause_on:
        return ()
    found: list[tuple[int, int | None]] = []
    began: int | None = None
    for at, status in facts.statuses:
        if status in pause_on:
            if began is None:
                began = at
        elif began is not None:
            if at > began:
                found.append((began, at))
            began = None
    if began is not None:
        found.append((began, facts.closed_at))
    return tuple(found)


def clock_deadline(calendar: Clock, start: int, duration: int, paused: Pauses) -> int:
    """When ``duration`` of open time has run from ``start``, not counting ``paused``.

    Each pause that begins before the deadline found so far stops the clock: the open time
    run until the pause is spent, the rest runs from the pause's end. An open-ended pause
    before the deadline leaves it at :data:`PAUSED`.
    """
    if not paused:
        return calendar.deadline(start, duration)  # the hot path: nothing paused
    remaining = duration
    cursor = start
    for begin, end in paused:
        if end is not None and end <= cursor:
            continue
        due = calendar.deadline(cursor, remaining)
        if begin >= due:
            return due
        remaining -= calendar.open_between(cursor, max(cursor, begin))
        if end is None:
            return PAUSED
        cursor = max(cursor, end)
    return calendar.deadline(cursor, remaining)


def paused_ms(paused: Pauses, start: int, until: int) -> int:
    """Wall-clock time of the pauses inside [start, until): what records report as paused."""
    total = 0
    for begin, end in paused:
        stop = until if end is None else min(end, until)
        total += max(0, stop - max(begin, start))
    return total


def attempts(rule: AttemptsRule, facts: CycleFacts) -> list[Checkpoint]:
    """One warning and one breach checkpoint per rung of the ladder."""
    touches, other = qualifying(rule.touches, facts)
    counted = counted_attempts(rule, touches)
    connected = connected_at(touches)
    paused = pauses(rule.pause_on, facts)
    calendar = facts.clock or rule.calendar
    start, closed_at, calling, warn = facts.clock_start, facts.closed_at, facts.calling, rule.warn
    checkpoints: list[Checkpoint] = []
    for rung in rule.ladder:  # locals and inlined helpers: this runs per rung and change
        need, within = rung.attempts, rung.within_ms
        kept = counted[need - 1] if len(counted) >= need else None
        if connected is not None and (kept is None or connected < kept):
            kept = connected  # the earlier of the rung reached and the connection
        satisfied: int | None
        if kept is not None and (closed_at is None or kept <= closed_at):
            satisfied, by_closing = kept, False
        else:
            satisfied, by_closing = closed_at, closed_at is not None
        if paused:
            deadline = clock_deadline(calendar, start, within, paused)
        else:
            deadline = calendar.deadline(start, within)
        if calling is not None and deadline != PAUSED:
            deadline = move_into(calling, deadline, start)
        detail: Detail = (
            ("required_attempts", need),
            ("attempts_by_deadline", bisect.bisect_right(counted, deadline)),
        )
        if other:
            late = sum(1 for t in other if t.at <= deadline)
            detail += (("non_qualifying_attempts", late),)
        offset = warn.offset(within)
        if offset is not None:
            checkpoints.append(
                _new(
                    Checkpoint,
                    (
                        Rule.ATTEMPTS,
                        Severity.WARNING,
                        clock_deadline(calendar, start, offset, paused),
                        deadline,
                        within,
                        satisfied,
                        by_closing,
                        detail,
                        paused,
                    ),
                )
            )
        checkpoints.append(
            _new(
                Checkpoint,
                (
                    Rule.ATTEMPTS,
                    Severity.BREACH,
                    deadline,
                    deadline,
                    within,
                    satisfied,
                    by_closing,
                    detail,
                    paused,
                ),
            )
        )
        if connected is not None and connected <= deadline:
            break  # a connection ends the ladder: later rungs cannot fall due
    return checkpoints


def counted_attempts(rule: AttemptsRule, touches: Sequence[Touch]) -> list[int]:
    """Attempt times that count: spaced at least ``min_spacing_ms`` from the last counted one.

    Sorted, as ``touches`` are (a cycle's attempts are kept in time order)."""
    if rule.min_spacing_ms <= 0:
        return [t.at for t in touches]
    counted: list[int] = []
    for at in (t.at for t in touches):
        if not counted or at - counted[-1] >= rule.min_spacing_ms:
            counted.append(at)
    return counted


def connected_at(touches: Sequence[Touch]) -> int | None:
    for t in touches:
        if t.outcome == Outcome.CONNECTED:
            return t.at
    return None


def _deadline_rule(
    rule: Rule,
    within_ms: int,
    calendar: Clock,
    warn: WarnAt,
    facts: CycleFacts,
    kept_at: int | None,
    paused: Pauses = (),
    calling: Calendar | None = None,
) -> list[Checkpoint]:
    satisfied, by_closing = _satisfied(kept_at, facts.closed_at)
    deadline = clock_deadline(calendar, facts.clock_start, within_ms, paused)
    if calling is not None and deadline != PAUSED:
        deadline = move_into(calling, deadline, facts.clock_start)
    breach = _new(
        Checkpoint,
        (rule, Severity.BREACH, deadline, deadline, within_ms, satisfied, by_closing, (), paused),
    )
    offset = warn.offset(within_ms)
    if offset is None:
        return [breach]
    warn_due = clock_deadline(calendar, facts.clock_start, offset, paused)
    warning = _new(
        Checkpoint,
        (rule, Severity.WARNING, warn_due, deadline, within_ms, satisfied, by_closing, (), paused),
    )
    return [warning, breach]


def _satisfied(kept_at: int | None, closed_at: int | None) -> tuple[int | None, bool]:
    if kept_at is not None and (closed_at is None or kept_at <= closed_at):
        return kept_at, False
    return closed_at, closed_at is not None
