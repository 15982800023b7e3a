"""Per-cycle facts for the monthly review: how each rule ended, and what each lead became.

The live worker and the replay publish effects (warnings, breaches, settlements); a
review also needs the rows behind them: one per lead, cycle and rule, with the
deadline and the time taken (for spreadsheets), and one per cycle with its first
touch and what followed (connected, qualified, won) to test "a follow-up within an
hour is almost 7x as likely to reach a decision maker" on the company's own data.

Both are read from a :class:`LeadState` after a replay: its checkpoints give the
deadlines, its ``emitted`` keys (:class:`~stream_sla.sla.emitted.Sent`) say which breaches
went out, so a row's status is the engine's own verdict, never a second opinion. Pure: no
clock, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from stream_sla.sla.availability import NOBODY_AWAY, Availability
from stream_sla.sla.effects import Rule, Severity
from stream_sla.sla.emitted import Sent
from stream_sla.sla.events import LeadStatus, Outcome
from stream_sla.sla.lead import Cycle, Handoff, LeadState
from stream_sla.sla.policy import Policy
from stream_sla.sla.rules import Checkpoint


class Status(enum.StrEnum):
    MET = "met"
    BREACHED = "breached"
    STOPPED = "stopped"
    """The cycle closed before the promise fell due: neither met nor breached."""
    PENDING = "pending"
    """Not kept yet and its deadline not reached by the end of the replay."""


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One lead, cycle and rule: the row of ``--outcomes-csv``."""

    lead_id: str
    cycle_started_at: int
    rule: Rule
    status: Status
    deadline_at: int
    """The breached deadline; for the attempts ladder the rung that decided the status."""
    taken_seconds: float | None
    """From hand-off to the promise kept (None while not kept, or stopped by a closing)."""
    owner: str
    team: str
    policy_segment: str


def rule_outcomes(
    state: LeadState, policy: Policy, availability: Availability = NOBODY_AWAY
) -> list[RuleOutcome]:
    """Every rule of every cycle of one lead, with the status the engine reached (with the
    owners' availability the replay had, so deadlines that follow owners are the same)."""
    cycles = state.cycles()
    by_rule: dict[tuple[int, Rule], list[tuple[str, Checkpoint]]] = {}
    for cycle, segment, checkpoint in state.checkpoints(policy, cycles, availability):
        if checkpoint.severity is Severity.BREACH:
            key = (cycle.started_at, checkpoint.rule)
            by_rule.setdefault(key, []).append((segment.name, checkpoint))
    by_start = {cycle.started_at: cycle for cycle in cycles}
    rows: list[RuleOutcome] = []
    for (started_at, rule), found in by_rule.items():
        cycle = by_start[started_at]
        segment_name = found[-1][0]
        checkpoints = [c for _, c in found]
        unkept = [c for c in checkpoints if not _kept(c)]
        if Sent(rule, Severity.BREACH, started_at) in state.emitted:
            status, decided = Status.BREACHED, unkept[0] if unkept else checkpoints[-1]
        elif unkept:
            status, decided = Status.PENDING, unkept[0]
        else:
            stopped = any(c.by_closing for c in checkpoints)
            status, decided = (Status.STOPPED if stopped else Status.MET), checkpoints[-1]
        kept_at = None if decided.by_closing else decided.satisfied_at
        # blame and credit as the engine gives them: the holder at the deadline for a breach,
        # at the moment the promise was kept (or the cycle closed) for a settlement
        moment = decided.due_at
        if status in (Status.MET, Status.STOPPED) and decided.satisfied_at is not None:
            moment = decided.satisfied_at
        holder = _holder(cycle, moment)
        rows.append(
            RuleOutcome(
                state.lead_id,
                started_at,
                rule,
                status,
                decided.deadline_at,
                (kept_at - started_at) / 1000 if kept_at is not None else None,
                holder.owner,
                holder.team,
                segment_name,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    """One hand-off cycle: its first touch and what the lead became within the cycle."""

    lead_id: str
    started_at: int
    first_touch_seconds: float | None
    connected: bool
    qualified: bool
    """Qualified or won in this cycle (a won deal was qualified on the way)."""
    won: bool
    owner: str
    team: str
    source: str | None
    segment: str | None


def cycle_outcomes(state: LeadState) -> list[CycleOutcome]:
    profile = state.profile
    rows: list[CycleOutcome] = []
    for cycle in state.cycles():
        end = cycle.closed_at
        attempts = [
            a for a in state.attempts if a.at >= cycle.started_at and (end is None or a.at < end)
        ]
        statuses = {
            s.status
            for s in state.statuses
            if s.at >= cycle.started_at and (end is None or s.at <= end)
        }
        first = attempts[0] if attempts else None
        holder = _holder(cycle, first.at if first else cycle.started_at)
        rows.append(
            CycleOutcome(
                state.lead_id,
                cycle.started_at,
                (first.at - cycle.started_at) / 1000 if first else None,
                any(a.outcome == Outcome.CONNECTED for a in attempts),
                bool(statuses & {LeadStatus.QUALIFIED, LeadStatus.WON}),
                LeadStatus.WON in statuses,
                holder.owner,
                holder.team,
                profile.source if profile else None,
                profile.segment if profile else None,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class LeadJourney:
    """How far one lead (one MQL) went in the funnel over everything seen of it."""

    lead_id: str
    created_at: int
    source: str
    sql: bool
    opportunity: bool
    """Reached a decided deal (won or lost): the data has no separate opportunity status."""
    won: bool
    lost: bool
    amount: float | None
    """The won deal's amount, when the CRM sent one."""


def journey(state: LeadState) -> LeadJourney | None:
    """None for a lead whose creation was never seen (it is not an MQL of this stream)."""
    profile = state.profile
    if profile is None:
        return None
    statuses = {s.status for s in state.statuses}
    won = [s for s in state.statuses if s.status == LeadStatus.WON]
    amount = next((s.amount for s in reversed(won) if s.amount is not None), None)
    return LeadJourney(
        state.lead_id,
        profile.at,
        profile.source,
        sql=bool(statuses & {LeadStatus.QUALIFIED, LeadStatus.WON, LeadStatus.LOST}),
        opportunity=bool(statuses & {LeadStatus.WON, LeadStatus.LOST}),
        won=LeadStatus.WON in statuses,
        lost=LeadStatus.LOST in statuses,
        amount=amount,
    )


def _kept(c: Checkpoint) -> bool:
    return c.satisfied_at is not None and c.satisfied_at <= c.deadline_at


def _holder(cycle: Cycle, moment: int) -> Handoff:
    """The rep holding the lead at ``moment`` (the first one before any hand-off)."""
    held = [h for h in cycle.handoffs if h.at <= moment]
    return held[-1] if held else cycle.handoffs[0]
