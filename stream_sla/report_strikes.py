"""Strikes in the replay report, counted exactly as the live notifier counts them.

The notifier's :func:`~stream_sla.notify.strikes.count_strikes` is pure and works on event
time (fixed windows of ``within`` from the epoch, a breach placed by its ``deadline_at``), so
the report feeds it the replay's breaches and gets the strikes, and their ids, the notifier
published. The breaches are the outcome rows still breached at the end: a retracted breach
has left ``LeadState.emitted`` and its row is no longer breached, so it counts towards no
strike, as :meth:`StrikeCounter.forget` makes it count towards no later strike live.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from stream_sla.notify.model import Notice
from stream_sla.notify.strikes import count_strikes
from stream_sla.sla.effects import Severity, effect_id
from stream_sla.sla.outcomes import RuleOutcome, Status

DEFAULT_BREACHES = 3
"""The routing file's default ``strikes.breaches`` (README "Reminders and escalations")."""
DEFAULT_WITHIN_MS = 30 * 86_400_000
"""The routing file's default ``strikes.within`` (30d)."""


def strike_rows(
    rows: Iterable[RuleOutcome],
    breaches: int,
    within_ms: int,
    month_of: Callable[[int], str],
    in_period: Callable[[int], bool],
) -> list[dict[str, Any]]:
    """One row per rep with a strike completed in the period: {rule, who, strikes, months}.

    ``rows`` are every outcome of the whole replay (a window may start before the reported
    month); a strike belongs to the month of the breach that completed it. ``rule`` lists
    the rules of the breaches the rep's strikes are made of: a strike counts a rep's
    breaches of every rule together, as the notifier does.
    """
    rules: dict[str, str] = {}
    notices: list[Notice] = []
    for row in rows:
        if row.status is not Status.BREACHED:
            continue
        breach_id = effect_id(row.lead_id, row.rule, Severity.BREACH, row.cycle_started_at)
        rules[breach_id] = row.rule.value
        notices.append(
            Notice(
                id=breach_id,
                severity="breach",
                rule=row.rule.value,
                lead_id=row.lead_id,
                handed_at=row.cycle_started_at,
                deadline_at=row.deadline_at,
                detected_at=row.deadline_at,
                target_seconds=0.0,
                owner=row.owner,
                team=row.team,
                segment=None,
                source=None,
                policy_segment=row.policy_segment,
            )
        )
    count: dict[str, int] = defaultdict(int)
    months: dict[str, set[str]] = defaultdict(set)
    rules_of: dict[str, set[str]] = defaultdict(set)
    for strike in count_strikes(notices, breaches, within_ms):
        if not in_period(strike.last_deadline_at):
            continue
        count[strike.rep] += 1
        months[strike.rep].add(month_of(strike.last_deadline_at))
        rules_of[strike.rep].update(rules[b] for b in strike.breach_ids)
    return [
        {
            "rule": ", ".join(sorted(rules_of[rep])),
            "who": rep,
            "strikes": count[rep],
            "months": sorted(months[rep]),
        }
        for rep in sorted(count, key=lambda r: (-count[r], r))
    ]
