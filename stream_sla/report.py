"""The replay report, as text for people and JSON for machines (one builder, two renderings)."""

from __future__ import annotations

import calendar as month_calendar
from datetime import date
from typing import Any

from stream_sla.replay import ReplayResult, compliance_targets
from stream_sla.sla import funnel
from stream_sla.sla.policy import Policy
from stream_sla.sla.rollups import Distribution
from stream_sla.sla.timestamps import format_ms

TOP = 10


def build(result: ReplayResult) -> dict[str, Any]:
    rollup, policy = result.rollup, result.policy
    targets = compliance_targets(policy)
    missed = rollup.missed_months(targets)
    return {
        "policy_version": policy.version,
        "events": result.events,
        "rejected": dict(result.rejected),
        "leads": result.leads,
        "period": {
            "from": format_ms(result.first_event_at) if result.first_event_at else None,
            "to": format_ms(result.last_event_at) if result.last_event_at else None,
        },
        "events_per_second": round(result.events / result.seconds) if result.seconds else None,
        "rules": {
            rule.value: {
                "met": tally.met,
                "warned": tally.warned,
                "breached": tally.breached,
                "stopped": tally.stopped,
                "compliance": tally.compliance,
                "target": targets.get(rule),
            }
            for rule, tally in sorted(rollup.rules.items())
        },
        "first_touch_seconds": {
            "by_team": _stats(rollup.first_touch_by_team),
            "by_rep": _stats(rollup.first_touch_by_rep),
            "by_week": _stats(_weekly(rollup.first_touch_by_day)),
            "target": _first_touch_target(policy),
        },
        "attempts_on_unconnected_leads": {
            "by_team": _stats(rollup.attempts_unconnected_by_team),
            "by_rep": _stats(rollup.attempts_unconnected_by_rep),
        },
        "mql_pacing": _pacing(result),
        "leaderboard": {
            "reps": rollup.points_by_rep.most_common(),
            "teams": rollup.points_by_team.most_common(),
        },
        "renegotiate": {
            rule.value: {"missed_months": months, "flag": len(months) >= 3}
            for rule, months in sorted(missed.items())
        },
    }


def _weekly(days: dict[date, Distribution]) -> dict[str, Distribution]:
    """Merge daily distributions into ISO weeks (they are counts: merging is adding)."""
    weeks: dict[str, Distribution] = {}
    for day, distribution in days.items():
        year, week, _ = day.isocalendar()
        weeks.setdefault(f"{year}-W{week:02d}", Distribution()).merge(distribution)
    return weeks


def _first_touch_target(policy: Policy) -> float | None:
    default = policy.segments[-1].first_touch
    return default.within_ms / 1000 if default else None


def _stats(groups: dict[str, Distribution]) -> dict[str, dict[str, float | int | None]]:
    return {
        name: {
            "n": d.count,
            "mean": round(d.mean, 2) if d.mean is not None else None,
            "p50": round(v, 2) if (v := d.quantile(0.5)) is not None else None,
            "p90": round(v, 2) if (v := d.quantile(0.9)) is not None else None,
        }
        for name, d in sorted(groups.items())
    }


def _pacing(result: ReplayResult) -> list[dict[str, Any]]:
    """Per day: MQLs, cumulative MQLs in the month, and the goal line g x day / days."""
    rollup, goals = result.rollup, result.policy.marketing
    rows: list[dict[str, Any]] = []
    cumulative: dict[tuple[int, int], float] = {}
    for day in sorted(rollup.mqls_by_day):
        month = (day.year, day.month)
        days = month_calendar.monthrange(day.year, day.month)[1]
        cumulative[month] = cumulative.get(month, 0) + rollup.mqls_by_day[day]
        goal_to_date = (
            funnel.goal_to_date(goals.monthly_mqls, day.day, days) if goals.monthly_mqls else None
        )
        rows.append(
            {
                "day": day.isoformat(),
                "mqls": rollup.mqls_by_day[day],
                "value": round(rollup.mql_value_by_day[day], 2),
                "cumulative": cumulative[month],
                "goal_to_date": round(goal_to_date, 1) if goal_to_date else None,
                "pacing": round(cumulative[month] / goal_to_date, 3) if goal_to_date else None,
            }
        )
    return rows


def render_text(report: dict[str, Any]) -> str:
    out: list[str] = []
    add = out.append
    period = report["period"]
    add(f"stream-sla replay — policy {report['policy_version']}")
    rejected = f", rejected {report['rejected']}" if report["rejected"] else ""
    add(f"{report['events']:,} events, {report['leads']:,} leads{rejected}")
    add(f"event time {period['from']} .. {period['to']}")
    if report["events_per_second"]:
        add(f"replayed at {report['events_per_second']:,} events/s")
    add("")
    add("SLA compliance (met / (met + breached))")
    columns = ("met", "warned", "breached", "stopped", "compl.")
    add(f"  {'rule':<12} " + " ".join(f"{c:>8}" for c in columns) + "  target")
    for rule, t in report["rules"].items():
        add(
            f"  {rule:<12} {t['met']:>8,} {t['warned']:>8,} {t['breached']:>8,} {t['stopped']:>8,}"
            f" {_pct(t['compliance']):>8}  {_pct(t['target'])}"
        )
    add("")
    add("First touch (hand-off to first attempt), by team")
    _table(out, report["first_touch_seconds"]["by_team"], _duration)
    add(f"First touch by rep (slowest {TOP} by p90)")
    reps = report["first_touch_seconds"]["by_rep"]
    slowest = dict(sorted(reps.items(), key=lambda kv: -(kv[1]["p90"] or 0))[:TOP])
    _table(out, slowest, _duration)
    target = report["first_touch_seconds"]["target"]
    add(f"First touch by week (target {_duration(target) if target else '-'})")
    _table(out, report["first_touch_seconds"]["by_week"], _duration)
    add("Attempts on leads never connected (textbook ideal: 6), by team")
    _table(out, report["attempts_on_unconnected_leads"]["by_team"], lambda v: f"{v:.1f}")
    add("MQL pacing (cumulative this month vs goal-to-date)")
    pacing = report["mql_pacing"]
    if pacing and pacing[-1]["goal_to_date"] is not None:
        add(f"  {'day':<10} {'MQLs':>5} {'cumul.':>7} {'goal':>7} {'pacing':>7}")
        for row in pacing:
            add(
                f"  {row['day']:<10} {row['mqls']:>5} {row['cumulative']:>7,} "
                f"{row['goal_to_date']:>7,.0f} {_pct(row['pacing']):>7}"
            )
    else:
        total = sum(row["mqls"] for row in pacing)
        add(f"  {total:,} MQLs over {len(pacing)} days (no monthly goal in the policy)")
    add("")
    add(f"Leaderboard (one point per service level met), top {TOP} reps")
    for rank, (rep, points) in enumerate(report["leaderboard"]["reps"][:TOP], 1):
        add(f"  {rank:>2}. {rep:<28} {points:>6,}")
    add("Teams")
    for rank, (team, points) in enumerate(report["leaderboard"]["teams"], 1):
        add(f"  {rank:>2}. {team:<28} {points:>6,}")
    add("")
    add("Renegotiate? (compliance under target in each of the last three months)")
    for rule, verdict in report["renegotiate"].items():
        months = ", ".join(verdict["missed_months"]) or "none"
        flag = "  <- RENEGOTIATE" if verdict["flag"] else ""
        add(f"  {rule:<12} missed: {months}{flag}")
    return "\n".join(out)


def _table(out: list[str], rows: dict[str, dict[str, Any]], fmt: Any) -> None:
    out.append(f"  {'':<28} {'n':>6} {'mean':>9} {'p50':>9} {'p90':>9}")
    for name, s in rows.items():
        cells = [fmt(s[k]) if s[k] is not None else "-" for k in ("mean", "p50", "p90")]
        out.append(f"  {name:<28} {s['n']:>6,} {cells[0]:>9} {cells[1]:>9} {cells[2]:>9}")
    out.append("")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
