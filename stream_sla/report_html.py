"""The monthly SLA review as one self-contained HTML file: the seeds' charts, tables, print CSS.

Charts are drawn by matplotlib and embedded as inline SVG: the file has no script and
loads nothing when opened (it can be mailed, archived, opened offline), the vectors stay
sharp when printed, and "Save as PDF" keeps each section on its own page thanks to
the print stylesheet. It renders the dict that :func:`stream_sla.report.build` makes,
so the text, JSON and HTML reports cannot disagree.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterator
from typing import Any

import matplotlib
from matplotlib import ticker
from matplotlib.figure import Figure

from stream_sla.report import duration_text, pct_text, rate_text, strikes_rule_text

IDEAL_ATTEMPTS = 6
SEVEN_X = (
    "The source documents say a follow-up within an hour is almost 7x as likely"
    " to reach a decision maker."
)
TOP_REPS = 15
MOST_REPS = 40
"""Per-rep charts show at most this many (the lowest first): beyond, a chart is unreadable."""
INK, GOAL, GOOD, MUTED = "#1f4e79", "#c0504d", "#5cb85c", "#8c8c8c"

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""The page may load nothing at all: it is one file, whatever the network."""

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 2px solid #1f4e79; padding-bottom: .2rem; }
.meta { color: #555; } .flag { color: #b52b27; font-weight: 600; }
.missing { color: #8a6d3b; } .note { color: #555; font-style: italic; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: 13px; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure.chart { margin: .5rem 0 1rem; } figure.chart svg { width: 100%; height: auto; }
figcaption { color: #555; font-size: 12px; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
.card b { display: block; font-size: 1.3rem; }
@media print {
  @page { size: A4; margin: 12mm; }
  body { max-width: none; padding: 0; font-size: 11px; }
  section { break-before: page; } section.first { break-before: auto; }
  figure, table, tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def render(report: dict[str, Any]) -> str:
    """The whole page; every chart is an inline <svg> inside <figure class="chart">."""
    period = report["period"]
    title = (
        f"SLA review {period['month']}"
        if period.get("month")
        else f"SLA review {_day(period['from'])} to {_day(period['to'])}"
    )
    body = "\n".join(section for section in _sections(report))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>{_e(title)}</h1>\n{body}\n</body></html>\n"
    )


def _sections(report: dict[str, Any]) -> Iterator[str]:
    yield _summary(report)
    yield _marketing(report)
    yield _first_touch(report)
    yield _attempts(report)
    yield _compliance(report)
    yield _leaderboard(report)
    yield _renegotiate(report)
    yield _strikes(report)
    yield _funnel(report["funnel"])
    yield _speed(report["speed_to_lead"])


def _summary(report: dict[str, Any]) -> str:
    pending = report["pending"]
    cards = [
        ("events", f"{report['events']:,}"),
        ("leads", f"{report['leads']:,}"),
        ("duplicates ignored", f"{report['duplicates']:,}"),
        ("unreadable lines", f"{sum(report['rejected'].values()):,}"),
        ("leads pending at the end", f"{pending['leads']:,}"),
    ]
    rules = [
        [
            rule,
            f"{t['met']:,}",
            f"{t['warned']:,}",
            f"{t['breached']:,}",
            f"{t['stopped']:,}",
            pct_text(t["compliance"]),
            pct_text(t["target"]),
        ]
        for rule, t in report["rules"].items()
    ]
    return (
        '<section class="first" id="summary">'
        f'<p class="meta">policy {_e(report["policy_version"])}; event time '
        f"{_e(report['period']['from'])} to {_e(report['period']['to'])}</p>"
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{v}</b>{_e(k)}</div>' for k, v in cards)
        + "</div><h2>Compliance per rule (met / (met + breached))</h2>"
        + _table(["rule", "met", "warned", "breached", "stopped", "compliance", "target"], rules)
        + "</section>"
    )


def _marketing(report: dict[str, Any]) -> str:
    rows = report["mql_pacing"]
    has_goal = bool(rows) and rows[-1]["goal_to_date"] is not None

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        x = list(range(len(rows)))
        ax.bar(x, [r["cumulative"] for r in rows], color=INK, label="cumulative MQLs (month)")
        if has_goal:
            goal = [r["goal_to_date"] for r in rows]
            ax.plot(x, goal, color=GOAL, linewidth=2, label="goal line")
            low, high = [g * 0.9 for g in goal], [g * 1.1 for g in goal]
            ax.fill_between(x, low, high, color=GOAL, alpha=0.15, label="goal +-10%")
        _days_axis(ax, [r["day"] for r in rows])
        ax.set_ylabel("MQLs")
        ax.legend(loc="upper left", fontsize=8)

    caption = (
        "Cumulative MQLs per day against the goal line (goal x day / days in month), +-10% band."
        if has_goal
        else "Cumulative MQLs per day; the policy sets no monthly goal, so no goal line."
    )
    return _section(
        "marketing", "Marketing: MQLs against the goal", _chart("mql-waterfall", draw, caption)
    )


def _first_touch(report: dict[str, Any]) -> str:
    ft = report["first_touch_seconds"]
    target = ft["target"]
    by_day, by_week = ft["by_day"], ft["by_week"]
    shares = report["first_touch_share"]["by_week"]

    def bars(groups: dict[str, Any], label_every: int) -> Callable[[Figure], None]:
        def draw(fig: Figure) -> None:
            ax = fig.subplots()
            names = list(groups)
            means = [(groups[n]["mean"] or 0) / 60 for n in names]
            ax.bar(range(len(names)), means, color=INK, label="mean first touch")
            p90 = [(groups[n]["p90"] or 0) / 60 for n in names]
            ax.plot(range(len(names)), p90, "o", color=MUTED, markersize=3, label="p90")
            if target:
                ax.axhline(target / 60, color=GOAL, linewidth=2, label="target")
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
            ax.set_ylabel("minutes (log scale)")
            ax.set_xticks(range(0, len(names), label_every))
            ax.set_xticklabels(names[::label_every], rotation=60, fontsize=7, ha="right")
            ax.legend(loc="upper left", fontsize=8)

        return draw

    def share(fig: Figure) -> None:
        ax = fig.subplots()
        weeks = list(shares)
        ax.plot(
            weeks,
            [100 * shares[w]["within_1h"] for w in weeks],
            "-o",
            color=INK,
            label="within 1 h",
        )
        ax.plot(
            weeks,
            [100 * shares[w]["within_5m"] for w in weeks],
            "-o",
            color=GOAL,
            label="within 5 min",
        )
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of hand-offs")
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.legend(loc="center right", fontsize=8)

    target_text = duration_text(target) if target else "none"
    team_rows = [
        [
            name,
            f"{s['n']:,}",
            duration_text(s["mean"]),
            duration_text(s["p50"]),
            duration_text(s["p90"]),
        ]
        for name, s in ft["by_team"].items()
    ]
    return _section(
        "first-touch",
        f"Sales: first touch against the target ({target_text})",
        _chart(
            "first-touch-day",
            bars(by_day, max(1, len(by_day) // 30)),
            "Mean first touch per day (hand-off day), p90 dots, target line.",
        )
        + _chart(
            "first-touch-week",
            bars(by_week, 1),
            "Mean first touch per ISO week, p90 dots, target line.",
        )
        + _chart(
            "first-touch-share",
            share,
            "Share of hand-offs touched within 5 minutes and within 1 hour, per week.",
        )
        + _table(["team", "n", "mean", "p50", "p90"], team_rows),
    )


def _attempts(report: dict[str, Any]) -> str:
    teams = report["attempts_on_unconnected_leads"]["by_team"]
    reps = report["attempts_on_unconnected_leads"]["by_rep"]
    if len(reps) > MOST_REPS:
        lowest = sorted(reps, key=lambda rep: reps[rep]["mean"] or 0)[:MOST_REPS]
        reps = {rep: reps[rep] for rep in sorted(lowest)}

    def draw(fig: Figure) -> None:
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 3]})
        for ax, groups in ((left, teams), (right, reps)):
            names = list(groups)
            ax.bar(range(len(names)), [groups[n]["mean"] or 0 for n in names], color=INK)
            ax.axhline(IDEAL_ATTEMPTS, color=GOAL, linewidth=2, label="ideal: 6")
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=60, fontsize=7, ha="right")
        left.set_ylabel("attempts (mean)")
        left.legend(fontsize=8)

    return _section(
        "attempts",
        "Sales: attempts on leads never connected, against 6",
        _chart(
            "attempts-unconnected",
            draw,
            "Mean attempts on unconnected hand-offs, per team (left) and rep (right; at most"
            f" the {MOST_REPS} lowest).",
        ),
    )


def _compliance(report: dict[str, Any]) -> str:
    rules = list(report["rules"])
    targets = {rule: t["target"] for rule, t in report["rules"].items()}

    def heat(table: dict[str, dict[str, Any]]) -> Callable[[Figure], None]:
        def draw(fig: Figure) -> None:
            ax = fig.subplots()
            names = list(table)
            grid = [[_value(table[n].get(rule)) for rule in rules] for n in names]
            shown = [[v if v is not None else float("nan") for v in row] for row in grid]
            image = ax.imshow(shown, cmap="RdYlGn", vmin=0.5, vmax=1.0, aspect="auto")
            for i, row in enumerate(grid):
                for j, v in enumerate(row):
                    ax.text(j, i, pct_text(v), ha="center", va="center", fontsize=7)
            ax.set_xticks(
                range(len(rules)),
                [f"{r}\n(target {pct_text(targets[r])})" for r in rules],
                fontsize=8,
            )
            ax.set_yticks(range(len(names)), names, fontsize=7)
            fig.colorbar(image, ax=ax, label="compliance")

        return draw

    by_team, by_rep = report["compliance_by_team"], _lowest(report["compliance_by_rep"])
    return _section(
        "compliance",
        "Compliance per rule, by team and by rep",
        _chart(
            "compliance-team",
            heat(by_team),
            "Met / (met + breached) per team and rule.",
            height=0.6 + 0.35 * len(by_team),
        )
        + _chart(
            "compliance-rep",
            heat(by_rep),
            f"Met / (met + breached) per rep and rule (at most the {MOST_REPS} lowest).",
            height=0.8 + 0.22 * len(by_rep),
        ),
    )


def _leaderboard(report: dict[str, Any]) -> str:
    reps = report["leaderboard"]["reps"][:TOP_REPS]
    teams = report["leaderboard"]["teams"]

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        names = [name for name, _ in reversed(reps)]
        ax.barh(names, [points for _, points in reversed(reps)], color=INK)
        ax.set_xlabel("points (one per service level met)")
        ax.tick_params(axis="y", labelsize=7)

    return _section(
        "leaderboard",
        "Leaderboard",
        _chart(
            "leaderboard", draw, f"Top {TOP_REPS} reps by points.", height=0.8 + 0.18 * len(reps)
        )
        + _table(["team", "points"], [[team, f"{points:,}"] for team, points in teams]),
    )


def _renegotiate(report: dict[str, Any]) -> str:
    months = report["compliance_by_month"]
    targets = {rule: t["target"] for rule, t in report["rules"].items()}

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        names = list(months)
        for n, rule in enumerate(targets):
            color = (INK, GOAL, GOOD)[n % 3]
            ax.plot(
                names,
                [_pct_value(months[m].get(rule)) for m in names],
                "-o",
                color=color,
                label=rule,
            )
            if targets[rule] is not None:
                ax.axhline(100 * targets[rule], color=color, linestyle=":", linewidth=1)
        ax.set_ylabel("compliance %")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)

    rows = []
    for rule, verdict in report["renegotiate"].items():
        flag = '<span class="flag">RENEGOTIATE</span>' if verdict["flag"] else "no"
        rows.append([rule, ", ".join(verdict["missed_months"]) or "none", flag])
    return _section(
        "renegotiate",
        "Missed three months in a row? (the renegotiate flag)",
        _chart("compliance-month", draw, "Compliance per rule and month; dotted lines: targets.")
        + _table(["rule", "months under target", "three in a row"], rows, raw_last=True),
    )


def _strikes(report: dict[str, Any]) -> str:
    """Strikes as the notifier counts them (the routing file's ``strikes`` settings); reports
    built before strikes were counted say so rather than staying silent."""
    strikes = report.get("strikes")
    settings = report.get("strike_settings")
    if settings is None:
        body = '<p class="note">No strikes recorded: this report was built without strikes.</p>'
    elif not strikes:
        body = f'<p class="note">No strikes: {_e(strikes_rule_text(settings))} never happened.</p>'
    else:
        body = f'<p class="note">One strike: {_e(strikes_rule_text(settings))}.</p>' + _table(
            ["rule", "who", "strikes", "months"],
            [[s["rule"], s["who"], f"{s['strikes']:,}", ", ".join(s["months"])] for s in strikes],
        )
    return _section("strikes", "Strikes", body)


def _funnel(found: dict[str, Any]) -> str:
    rows = []
    for rate in found["rates"]:
        value = _e(rate_text(rate))
        if rate["missing"]:
            value = f'<span class="missing">{value}</span>'
        rows.append([rate["name"], f"{rate['numerator']:,} / {rate['denominator']:,}", value])
    nxt = found["next_month"]
    plan = nxt["plan"]
    planned = ""
    if plan:
        planned = _table(
            ["stage", "per month", "per day"],
            [
                [name, f"{s['per_month']:,}", f"{s['per_day']:,.1f}"]
                for name, s in plan["stages"].items()
            ],
        )
    counts = (
        f"{found['leads']:,} leads, {found['sqls']:,} SQLs, {found['opportunities']:,} decided"
        f" deals, {found['customers']:,} won, revenue {found['revenue']:,.2f}"
    )
    return _section(
        "funnel",
        f"Funnel from actuals, and next month ({nxt['month']})",
        f"<p>{_e(counts)}</p>"
        + _table(["rate", "from", "achieved"], rows, raw_last=True)
        + planned
        + f'<p class="note">{_e(nxt["note"])}. {_e(nxt["marketing_share_note"])}.</p>',
    )


def _speed(speed: dict[str, Any]) -> str:
    overall = speed["all"]
    buckets = list(overall["buckets"])
    outcomes = ("connect", "qualification", "win")

    def draw(fig: Figure) -> None:
        ax = fig.subplots()
        width = 0.25
        for n, outcome in enumerate(outcomes):
            rates = [overall["buckets"][b][outcome] for b in buckets]
            values = [_pct_value(r["rate"]) for r in rates]
            low = [v - _pct_value(r["low"]) for v, r in zip(values, rates, strict=True)]
            high = [_pct_value(r["high"]) - v for v, r in zip(values, rates, strict=True)]
            ax.bar(
                [i + (n - 1) * width for i in range(len(buckets))],
                values,
                width,
                yerr=[low, high],
                capsize=3,
                color=(INK, GOOD, GOAL)[n],
                label=f"{outcome} rate",
            )
        ax.set_xticks(
            range(len(buckets)),
            [f"{b}\n(n={overall['buckets'][b]['connect']['n']:,})" for b in buckets],
            fontsize=8,
        )
        ax.set_ylabel("% of hand-off cycles")
        ax.legend(fontsize=8)

    verdicts = "".join(
        f"<li><b>{_e(outcome)}</b>: {_e(c['verdict'])}</li>"
        for outcome, c in overall["within_hour_vs_after"].items()
    )
    groups = ""
    for title, key in (("source", "by_source"), ("segment", "by_segment")):
        rows = []
        for name, found in speed[key].items():
            for outcome, c in found["within_hour_vs_after"].items():
                rows.append(
                    [
                        f"{name}: {outcome}",
                        _interval(c["within_hour"]),
                        _interval(c["after_hour"]),
                        c["verdict"],
                    ]
                )
        groups += f"<h3>By {title}</h3>" + _table(
            [title, "within 1 h", "after 1 h", "verdict"], rows
        )
    return _section(
        "speed-to-lead",
        "Speed to lead against outcome",
        _chart(
            "speed-to-lead",
            draw,
            "Connect, qualification and win rate per first-touch bucket, 95% Wilson intervals.",
        )
        + f"<p>{_e(SEVEN_X)} On these leads:</p><ul>{verdicts}</ul>"
        + groups,
    )


# -- building blocks -------------------------------------------------------------------


def _chart(name: str, draw: Callable[[Figure], None], caption: str, height: float = 3.2) -> str:
    """One figure as inline SVG; text stays text (searchable, crisp in print)."""
    with matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": name, "font.size": 9, "font.family": "sans-serif"}
    ):
        fig = Figure(figsize=(10, max(2.0, min(height, 14.0))), layout="constrained")
        draw(fig)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    return (
        f'<figure class="chart" data-chart="{_e(name)}">{svg}'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _table(header: list[str], rows: list[list[str]], raw_last: bool = False) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    lines = []
    for row in rows:
        cells = [_e(str(c)) for c in row[:-1]] + [row[-1] if raw_last else _e(str(row[-1]))]
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _days_axis(ax: Any, days: list[str]) -> None:
    step = max(1, len(days) // 20)
    ax.set_xticks(range(0, len(days), step))
    ax.set_xticklabels(days[::step], rotation=60, fontsize=7, ha="right")


def _lowest(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """At most MOST_REPS rows, those with the lowest mean compliance over their rules."""
    if len(table) <= MOST_REPS:
        return table

    def mean(name: str) -> float:
        values = [c["compliance"] for c in table[name].values() if c["compliance"] is not None]
        return sum(values) / len(values) if values else 1.0

    return {name: table[name] for name in sorted(sorted(table, key=mean)[:MOST_REPS])}


def _value(cell: dict[str, Any] | None) -> float | None:
    return cell["compliance"] if cell else None


def _interval(rate: dict[str, Any]) -> str:
    if rate["rate"] is None:
        return "-"
    low, high = pct_text(rate["low"]), pct_text(rate["high"])
    return f"{pct_text(rate['rate'])} [{low}, {high}] n={rate['n']:,}"


def _pct_value(value: float | None) -> float:
    return 100 * value if value is not None else float("nan")


def _day(moment: str | None) -> str:
    return moment[:10] if moment else "-"


def _e(text: str) -> str:
    return html.escape(text, quote=True)
