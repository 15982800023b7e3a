"""The replay report, as text for people and JSON for machines (one builder, two renderings)."""

from __future__ import annotations

import calendar as month_calendar
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from stream_sla import report_strikes
from stream_sla.replay import ReplayResult, compliance_targets
from stream_sla.sla import actuals, funnel
from stream_sla.sla.effects import Effect, FirstTouchMeasured, MqlDelivered
from stream_sla.sla.outcomes import (
    CycleOutcome,
    RuleOutcome,
    Status,
    cycle_outcomes,
    journey,
    rule_outcomes,
)
from stream_sla.sla.policy import Policy
from stream_sla.sla.rollups import Distribution, Rollup
from stream_sla.sla.speed_to_lead import BUCKETS, NEVER, Rate, speed_to_lead
from stream_sla.sla.timestamps import format_ms

TOP = 10


def outcomes(result: ReplayResult) -> list[RuleOutcome]:
    """One row per lead, cycle and rule, in lead and cycle order (the CSV's rows)."""
    rows: list[RuleOutcome] = []
    for lead_id in sorted(result.states):
        rows.extend(rule_outcomes(result.states[lead_id], result.policy, result.availability))
    rows.sort(key=lambda r: (r.lead_id, r.cycle_started_at, r.rule.value))
    return rows


def build(
    result: ReplayResult,
    quota: float | None = None,
    marketing_share: float = 1.0,
    month: str | None = None,
    strike_breaches: int = report_strikes.DEFAULT_BREACHES,
    strike_within_ms: int = report_strikes.DEFAULT_WITHIN_MS,
) -> dict[str, Any]:
    """Everything the text, JSON and HTML reports show; ``quota`` re-plans next month.

    ``month`` (YYYY-MM) narrows every figure to hand-offs and leads of that month while
    the replay still ran over the whole file (earlier months give state and the
    three-months-missed flag); it needs ``replay(keep_effects=True)``. ``strikes`` is a
    list of {rule, who, strikes, months}, counted as the notifier counts them with the
    routing file's ``strikes`` settings (``strike_breaches`` within ``strike_within_ms``).
    """
    policy = result.policy
    in_period = _in_month(result, month)
    rollup = result.rollup if month is None else _month_rollup(result, in_period)
    targets = compliance_targets(policy)
    missed = result.rollup.missed_months(targets, through=month)
    rows = [r for r in outcomes(result) if in_period(r.cycle_started_at)]
    cycles = [
        c
        for state in result.states.values()
        for c in cycle_outcomes(state)
        if in_period(c.started_at)
    ]
    return {
        "policy_version": policy.version,
        "events": result.events,
        "rejected": dict(result.rejected),
        "duplicates": result.duplicates,
        "leads": result.leads if month is None else _leads_in(result, in_period),
        "pending": _pending(rows),
        "period": _period(result, month)
        or {
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
            "by_day": _stats({d.isoformat(): v for d, v in rollup.first_touch_by_day.items()}),
            "by_week": _stats(_weekly(rollup.first_touch_by_day)),
            "target": _first_touch_target(policy),
        },
        "attempts_on_unconnected_leads": {
            "by_team": _stats(rollup.attempts_unconnected_by_team),
            "by_rep": _stats(rollup.attempts_unconnected_by_rep),
        },
        "mql_pacing": _pacing(rollup, policy),
        "leaderboard": {
            "reps": rollup.points_by_rep.most_common(),
            "teams": rollup.points_by_team.most_common(),
        },
        "renegotiate": {
            rule.value: {"missed_months": months, "flag": len(months) >= 3}
            for rule, months in sorted(missed.items())
        },
        "compliance_by_month": _by_month(result, month),
        "compliance_by_team": _compliance(rows, lambda r: r.team),
        "compliance_by_rep": _compliance(rows, lambda r: r.owner),
        "breach_share_by_rep": sorted(
            ((rep, round(share, 3)) for rep, share in rollup.breach_share_by_rep.items() if share),
            key=lambda pair: (-pair[1], pair[0]),
        ),
        "first_touch_share": _shares(cycles, result.rollup.day),
        "speed_to_lead": {
            "all": _speed(cycles),
            "by_source": {k: _speed(v) for k, v in _group(cycles, lambda c: c.source).items()},
            "by_segment": {k: _speed(v) for k, v in _group(cycles, lambda c: c.segment).items()},
        },
        "funnel": _funnel(result, in_period, month, quota, marketing_share),
        "strikes": report_strikes.strike_rows(
            outcomes(result),
            strike_breaches,
            strike_within_ms,
            lambda at: result.rollup.day(at).strftime("%Y-%m"),
            in_period,
        ),
        "strike_settings": {"breaches": strike_breaches, "within_seconds": strike_within_ms / 1000},
    }


def _in_month(result: ReplayResult, month: str | None) -> Callable[[int], bool]:
    if month is None:
        return lambda _: True
    day = result.rollup.day
    return lambda epoch_ms: day(epoch_ms).strftime("%Y-%m") == month


def _month_rollup(result: ReplayResult, in_period: Callable[[int], bool]) -> Rollup:
    """The figures of one month, re-aggregated from the replay's effects (sums: exact)."""
    if result.events and not result.effects:
        raise ValueError("build(month=...) needs replay(..., keep_effects=True)")
    rollup = Rollup(result.rollup.timezone)
    for effect in result.effects:
        if in_period(_effect_time(effect)):
            rollup.add(effect)
    for state in result.states.values():
        for handoff, attempts in state.unconnected_attempts():
            if in_period(handoff.at):
                rollup.add_unconnected(handoff.team, handoff.owner, attempts)
    return rollup


def _effect_time(effect: Effect) -> int:
    """The moment that places an effect in a month: its cycle's hand-off, or the MQL."""
    if isinstance(effect, MqlDelivered):
        return effect.created_at
    if isinstance(effect, FirstTouchMeasured):
        return effect.handed_at
    return effect.cycle_started_at


def _leads_in(result: ReplayResult, in_period: Callable[[int], bool]) -> int:
    """Leads created, or handed over, in the period."""
    return sum(
        1
        for state in result.states.values()
        if (state.profile is not None and in_period(state.profile.at))
        or any(in_period(h.at) for h in state.handoffs)
    )


def _period(result: ReplayResult, month: str | None) -> dict[str, str | None] | None:
    if month is None:
        return None
    year, number = (int(part) for part in month.split("-"))
    last = month_calendar.monthrange(year, number)[1]
    return {"from": f"{month}-01", "to": f"{month}-{last:02d}", "month": month}


def _by_month(result: ReplayResult, through: str | None) -> dict[str, dict[str, float | None]]:
    months: dict[str, dict[str, float | None]] = defaultdict(dict)
    for (month, rule), tally in sorted(result.rollup.rules_by_month.items()):
        if through is None or month <= through:
            months[month][rule.value] = tally.compliance
    return dict(months)


def _pending(rows: list[RuleOutcome]) -> dict[str, Any]:
    """Leads with a promise still open at the end of the replay, and the rules open."""
    pending = [r for r in rows if r.status is Status.PENDING]
    return {
        "leads": len({r.lead_id for r in pending}),
        "by_rule": dict(sorted(Counter(r.rule.value for r in pending).items())),
    }


def _compliance(rows: list[RuleOutcome], key: Any) -> dict[str, dict[str, Any]]:
    """Per team (or rep) and rule: met, breached and met / (met + breached)."""
    counts: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for row in rows:
        counts[key(row)][row.rule.value][row.status.value] += 1
    table: dict[str, dict[str, Any]] = {}
    for name in sorted(counts):
        table[name] = {}
        for rule, c in sorted(counts[name].items()):
            decided = c["met"] + c["breached"]
            table[name][rule] = {
                "met": c["met"],
                "breached": c["breached"],
                "compliance": round(c["met"] / decided, 4) if decided else None,
            }
    return table


def _group(cycles: list[CycleOutcome], key: Any) -> dict[str, list[CycleOutcome]]:
    groups: dict[str, list[CycleOutcome]] = defaultdict(list)
    for cycle in cycles:
        groups[str(key(cycle) or "unknown")].append(cycle)
    return dict(sorted(groups.items()))


def _rate(rate: Rate) -> dict[str, Any]:
    return {
        "hits": rate.hits,
        "n": rate.n,
        "rate": round(rate.value, 4) if rate.value is not None else None,
        "low": round(rate.low, 4) if rate.low is not None else None,
        "high": round(rate.high, 4) if rate.high is not None else None,
    }


def _speed(cycles: list[CycleOutcome]) -> dict[str, Any]:
    found = speed_to_lead(cycles)
    return {
        "buckets": {
            name: {outcome: _rate(rate) for outcome, rate in by_outcome.items()}
            for name, by_outcome in found.rates.items()
        },
        "within_hour_vs_after": {
            c.outcome: {
                "within_hour": _rate(c.within_hour),
                "after_hour": _rate(c.after_hour),
                "ratio": round(c.ratio, 2) if c.ratio is not None else None,
                "verdict": c.verdict,
            }
            for c in found.comparisons
        },
    }


def _shares(cycles: list[CycleOutcome], day_of: Callable[[int], date]) -> dict[str, Any]:
    """Share of hand-offs first touched within 5 minutes and within 1 hour, per day and week."""
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    by_week: dict[str, Counter[str]] = defaultdict(Counter)
    for cycle in cycles:
        day = day_of(cycle.started_at)
        year, week, _ = day.isocalendar()
        for table, key in ((by_day, day.isoformat()), (by_week, f"{year}-W{week:02d}")):
            counter = table[key]
            counter["n"] += 1
            seconds = cycle.first_touch_seconds
            counter["5m"] += seconds is not None and seconds <= BUCKETS[0][1]
            counter["1h"] += seconds is not None and seconds <= BUCKETS[1][1]

    def shares(table: dict[str, Counter[str]]) -> dict[str, dict[str, Any]]:
        return {
            key: {
                "handoffs": c["n"],
                "within_5m": round(c["5m"] / c["n"], 4),
                "within_1h": round(c["1h"] / c["n"], 4),
            }
            for key, c in sorted(table.items())
        }

    return {"by_day": shares(by_day), "by_week": shares(by_week), "never": NEVER}


def _funnel(
    result: ReplayResult,
    in_period: Callable[[int], bool],
    month: str | None,
    quota: float | None,
    marketing_share: float,
) -> dict[str, Any]:
    journeys = [
        j
        for state in result.states.values()
        if (j := journey(state)) is not None and in_period(j.created_at)
    ]
    found = actuals.actuals(journeys)
    if month is None:
        end = result.rollup.day(result.last_event_at or result.until)
        year, number = end.year, end.month
    else:
        year, number = (int(part) for part in month.split("-"))
    following = (year + number // 12, number % 12 + 1)
    planned = actuals.next_month_plan(found, quota, marketing_share, following)
    return {
        "leads": found.leads,
        "sqls": found.sqls,
        "opportunities": found.opportunities,
        "customers": found.customers,
        "revenue": round(found.revenue, 2),
        "rates": [
            {
                "name": a.name,
                "value": round(a.value, 4) if a.value is not None else None,
                "numerator": round(a.numerator, 2),
                "denominator": a.denominator,
                "missing": a.missing,
            }
            for a in found.rates()
        ],
        "next_month": {
            "month": f"{following[0]}-{following[1]:02d}",
            "quota": quota,
            "marketing_share": marketing_share,
            "plan": funnel.as_dict(planned.plan) if planned.plan else None,
            "note": planned.note,
            "marketing_share_note": (
                "marketing's share of closed revenue needs the revenue of every deal, not only"
                f" of marketing's leads: the plan uses --marketing-share {marketing_share:g}"
            ),
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


def _pacing(rollup: Rollup, policy: Policy) -> list[dict[str, Any]]:
    """Per day: MQLs, cumulative MQLs in the month, and the goal line g x day / days."""
    goals = policy.marketing
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
    pending = report["pending"]
    open_rules = ", ".join(f"{rule} {n:,}" for rule, n in pending["by_rule"].items()) or "none"
    add(
        f"{report['duplicates']:,} duplicate events ignored;"
        f" {pending['leads']:,} leads still pending at the end ({open_rules})"
    )
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
            f" {pct_text(t['compliance']):>8}  {pct_text(t['target'])}"
        )
    add("")
    add("First touch (hand-off to first attempt), by team")
    _table(out, report["first_touch_seconds"]["by_team"], duration_text)
    add(f"First touch by rep (slowest {TOP} by p90)")
    reps = report["first_touch_seconds"]["by_rep"]
    slowest = dict(sorted(reps.items(), key=lambda kv: -(kv[1]["p90"] or 0))[:TOP])
    _table(out, slowest, duration_text)
    target = report["first_touch_seconds"]["target"]
    add(f"First touch by week (target {duration_text(target) if target else '-'})")
    _table(out, report["first_touch_seconds"]["by_week"], duration_text)
    add("Attempts on leads never connected (textbook ideal: 6), by team")
    _table(out, report["attempts_on_unconnected_leads"]["by_team"], lambda v: f"{v:.1f}")
    add("MQL pacing (cumulative this month vs goal-to-date)")
    pacing = report["mql_pacing"]
    if pacing and pacing[-1]["goal_to_date"] is not None:
        add(f"  {'day':<10} {'MQLs':>5} {'cumul.':>7} {'goal':>7} {'pacing':>7}")
        for row in pacing:
            add(
                f"  {row['day']:<10} {row['mqls']:>5} {row['cumulative']:>7,} "
                f"{row['goal_to_date']:>7,.0f} {pct_text(row['pacing']):>7}"
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
    add(f"Breaches charged by share of the clock held (re-assigned leads split), top {TOP}")
    for rep, share in report["breach_share_by_rep"][:TOP]:
        add(f"  {rep:<32} {share:>8,.2f}")
    add("")
    add("Renegotiate? (compliance under target in each of the last three months)")
    for rule, verdict in report["renegotiate"].items():
        months = ", ".join(verdict["missed_months"]) or "none"
        flag = "  <- RENEGOTIATE" if verdict["flag"] else ""
        add(f"  {rule:<12} missed: {months}{flag}")
    add("")
    add(f"Strikes ({strikes_rule_text(report['strike_settings'])})")
    for s in report["strikes"]:
        add(f"  {s['who']:<28} {s['strikes']:>3,}  {', '.join(s['months'])}  ({s['rule']})")
    if not report["strikes"]:
        add("  none")
    add("")
    _render_funnel(out, report["funnel"])
    add("")
    _render_speed(out, report["speed_to_lead"]["all"])
    return "\n".join(out)


def strikes_rule_text(settings: dict[str, Any]) -> str:
    """``3 breaches of one rep within a 30d window``: what one strike is, for both renderings."""
    days, rest = divmod(settings["within_seconds"], 86_400)
    window = f"{days:g}d" if not rest else duration_text(settings["within_seconds"])
    return f"{settings['breaches']} breaches of one rep within a {window} window"


def _render_funnel(out: list[str], found: dict[str, Any]) -> None:
    out.append(
        f"Funnel from actuals: {found['leads']:,} leads, {found['sqls']:,} SQLs,"
        f" {found['opportunities']:,} decided deals, {found['customers']:,} won"
        f" ({found['revenue']:,.2f} revenue)"
    )
    for rate in found["rates"]:
        out.append(f"  {rate['name']:<20} {rate_text(rate)}")
    nxt = found["next_month"]
    plan = nxt["plan"]
    if plan:
        stages = ", ".join(f"{s['per_month']:,} {name}" for name, s in plan["stages"].items())
        out.append(f"Next month ({nxt['month']}, quota {nxt['quota']:,.0f}): {stages}")
    out.append(f"  {nxt['note']}")
    out.append(f"  {nxt['marketing_share_note']}")


def _render_speed(out: list[str], speed: dict[str, Any]) -> None:
    out.append("Speed to lead against outcome (per hand-off cycle, 95% Wilson intervals)")
    out.append(f"  {'first touch':<15} {'n':>6} {'connect':>20} {'qualified':>20} {'won':>20}")
    for name, by_outcome in speed["buckets"].items():
        cells = [_interval(by_outcome[o]) for o in ("connect", "qualification", "win")]
        n = by_outcome["connect"]["n"]
        out.append(f"  {name:<15} {n:>6,} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20}")
    for outcome, c in speed["within_hour_vs_after"].items():
        out.append(f"  {outcome}: {c['verdict']}")


def rate_text(rate: dict[str, Any]) -> str:
    """A funnel actual: a percentage, an amount for the deal size, or why it is missing."""
    if rate["missing"]:
        return f"missing: {rate['missing']}"
    if rate["name"] == "average deal size":
        return f"{rate['value']:,.2f}"
    return pct_text(rate["value"])


def _interval(rate: dict[str, Any]) -> str:
    if rate["rate"] is None:
        return "-"
    return f"{pct_text(rate['rate'])} [{pct_text(rate['low'])}-{pct_text(rate['high'])}]"


def _table(out: list[str], rows: dict[str, dict[str, Any]], fmt: Any) -> None:
    out.append(f"  {'':<28} {'n':>6} {'mean':>9} {'p50':>9} {'p90':>9}")
    for name, s in rows.items():
        cells = [fmt(s[k]) if s[k] is not None else "-" for k in ("mean", "p50", "p90")]
        out.append(f"  {name:<28} {s['n']:>6,} {cells[0]:>9} {cells[1]:>9} {cells[2]:>9}")
    out.append("")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def pct_text(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
