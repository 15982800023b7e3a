"""The three sales-side service levels, each reduced to checkpoints on one hand-off cycle.

A checkpoint is a moment at which a promise falls due (``due_at``), the breach
deadline it belongs to, and the moment the promise was kept or became moot
(``satisfied_at``, from the facts alone). The engine in :mod:`lead` turns
checkpoints into warnings, breaches and the next deadline; rules never look at
the clock, so they cannot disagree between replay and live.
"""

from __future__ import annotations

from typing import NamedTuple

from stream_sla.sla.calendar import Calendar
from stream_sla.sla.effects import Rule, Severity
from stream_sla.sla.events import Outcome
from stream_sla.sla.policy import AttemptsRule, DispositionRule, FirstTouchRule, WarnAt

Detail = tuple[tuple[str, int | str], ...]


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


class CycleFacts(NamedTuple):
    """What the rules need of one cycle, computed once per evaluation."""

    clock_start: int
    closed_at: int | None
    attempts: tuple[tuple[int, str], ...]
    """(time, outcome) of the cycle's attempts, sorted."""
    first_status_at: int | None


def first_touch(rule: FirstTouchRule, facts: CycleFacts) -> list[Checkpoint]:
    touch = facts.attempts[0][0] if facts.attempts else None
    return _deadline_rule(Rule.FIRST_TOUCH, rule.within_ms, rule.calendar, rule.warn, facts, touch)


def disposition(rule: DispositionRule, facts: CycleFacts) -> list[Checkpoint]:
    return _deadline_rule(
        Rule.DISPOSITION, rule.within_ms, rule.calendar, rule.warn, facts, facts.first_status_at
    )


def attempts(rule: AttemptsRule, facts: CycleFacts) -> list[Checkpoint]:
    """One warning and one breach checkpoint per rung of the ladder."""
    counted = counted_attempts(rule, facts)
    connected = connected_at(facts)
    checkpoints: list[Checkpoint] = []
    for rung in rule.ladder:
        reached = counted[rung.attempts - 1] if len(counted) >= rung.attempts else None
        kept = _earliest(reached, connected)
        satisfied, by_closing = _satisfied(kept, facts.closed_at)
        deadline = rule.calendar.deadline(facts.clock_start, rung.within_ms)
        detail: Detail = (
            ("required_attempts", rung.attempts),
            ("attempts_by_deadline", sum(1 for at in counted if at <= deadline)),
        )
        offset = rule.warn.offset(rung.within_ms)
        if offset is not None:
            checkpoints.append(
                Checkpoint(
                    Rule.ATTEMPTS,
                    Severity.WARNING,
                    rule.calendar.deadline(facts.clock_start, offset),
                    deadline,
                    rung.within_ms,
                    satisfied,
                    by_closing,
                    detail,
                )
            )
        checkpoints.append(
            Checkpoint(
                Rule.ATTEMPTS,
                Severity.BREACH,
                deadline,
                deadline,
                rung.within_ms,
                satisfied,
                by_closing,
                detail,
            )
        )
        if connected is not None and connected <= deadline:
            break  # a connection ends the ladder: later rungs cannot fall due
    return checkpoints


def counted_attempts(rule: AttemptsRule, facts: CycleFacts) -> list[int]:
    """Attempt times that count: spaced at least ``min_spacing_ms`` from the last counted one."""
    counted: list[int] = []
    for at, _ in facts.attempts:
        if not counted or at - counted[-1] >= rule.min_spacing_ms:
            counted.append(at)
    return counted


def connected_at(facts: CycleFacts) -> int | None:
    for at, outcome in facts.attempts:
        if outcome == Outcome.CONNECTED:
            return at
    return None


def _deadline_rule(
    rule: Rule,
    within_ms: int,
    calendar: Calendar,
    warn: WarnAt,
    facts: CycleFacts,
    kept_at: int | None,
) -> list[Checkpoint]:
    satisfied, by_closing = _satisfied(kept_at, facts.closed_at)
    deadline = calendar.deadline(facts.clock_start, within_ms)
    breach = Checkpoint(rule, Severity.BREACH, deadline, deadline, within_ms, satisfied, by_closing)
    offset = warn.offset(within_ms)
    if offset is None:
        return [breach]
    warn_due = calendar.deadline(facts.clock_start, offset)
    return [breach._replace(severity=Severity.WARNING, due_at=warn_due), breach]


def _satisfied(kept_at: int | None, closed_at: int | None) -> tuple[int | None, bool]:
    if kept_at is not None and (closed_at is None or kept_at <= closed_at):
        return kept_at, False
    return closed_at, closed_at is not None


def _earliest(*moments: int | None) -> int | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None
