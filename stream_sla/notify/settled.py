"""Is a held reminder still worth sending? Asked of the worker's own verdicts.

The notifier reads ``sla.lead-state`` (the worker's changelog: every lead's facts after
each batch, co-partitioned with the SLA topics) and asks the same core the worker uses
(:meth:`LeadState.cycles`, :meth:`LeadState.checkpoints`) whether the rule was kept or the
cycle closed since the notice. Reading the CRM topics instead would mean a second
implementation of the rules (attempt ladders, reassignment, calendars) that could
disagree with the worker; the SLA topics alone carry warnings and breaches, not "met".
"""

from __future__ import annotations

from stream_sla.notify.model import Delivery, Notice
from stream_sla.sla.effects import Rule, Severity
from stream_sla.sla.emitted import Sent
from stream_sla.sla.lead import LeadState
from stream_sla.sla.policy import Policy


def moot(delivery: Delivery, state: LeadState, policy: Policy) -> bool:
    """True when the lead closed, the rule was kept, or (for a warning) its breach came:
    nobody should be reminded of it any more. An escalation of a breach stays (the
    manager is told the SLA was missed even if the rep acted late), unless the lead closed."""
    notice = delivery.notice
    cycles = [c for c in state.cycles() if c.started_at == notice.handed_at]
    if not cycles:
        return False
    cycle = cycles[0]
    if cycle.closed_at is not None:
        return True
    if notice.severity != Severity.BREACH.value and (
        Sent(Rule(notice.rule), Severity.BREACH, cycle.started_at) in state.emitted
    ):
        return True
    if delivery.escalation:
        return False
    for found, _, checkpoint in state.checkpoints(policy, cycles):
        if (
            found.started_at == cycle.started_at
            and checkpoint.rule == Rule(notice.rule)
            and checkpoint.severity is Severity.BREACH
            and checkpoint.deadline_at == notice.deadline_at
        ):
            return checkpoint.satisfied_at is not None
    return False


def stale(notice: Notice, now: int) -> bool:
    """A warning read after its deadline (the notifier lagged or restarted) says nothing
    useful any more: either the lead was met, or its breach follows and says more."""
    return notice.severity != Severity.BREACH.value and notice.deadline_at <= now
