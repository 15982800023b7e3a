"""The worker's own status page: the main SLA gauges and the latest breaches, for a person.

Grafana is the real dashboard; this page is what an operator (or a test with a
headless browser) can open on any worker without anything else running.
Server-rendered, refreshing itself every few seconds, no JavaScript.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from html import escape

from stream_sla.sinks import TypedSink
from stream_sla.sla.effects import BreachRetracted, SlaViolation
from stream_sla.sla.timestamps import format_ms

RECENT = 20
TEAM_ROWS = 50
"""Team rows shown, most open leads first; the rest are summed in one line. Teams are bounded
labels already (known teams plus a few hash buckets), so this only guards a long known list."""


class RecentViolations(TypedSink):
    """The last few warnings and breaches this worker published, newest first: the status
    page's sink of the engine's effects."""

    def __init__(self, size: int = RECENT) -> None:
        self._items: deque[SlaViolation] = deque(maxlen=size)
        self.handlers = {
            SlaViolation: self.add,
            BreachRetracted: lambda retraction: self.retract(retraction.retracts),
        }

    def add(self, violation: SlaViolation) -> None:
        self._items.appendleft(violation)

    def retract(self, breach_id: str) -> None:
        """Late data withdrew this breach: the page no longer lists it."""
        kept = [v for v in self._items if v.id != breach_id]
        if len(kept) != len(self._items):
            self._items = deque(kept, maxlen=self._items.maxlen)

    def items(self) -> list[SlaViolation]:
        return list(self._items)


def render(
    ready: bool,
    teams: Mapping[str, Mapping[str, int]],
    mqls: Mapping[str, tuple[int, float]],
    goal_to_date: float | None,
    recent: list[SlaViolation],
) -> str:
    delivered = sum(count for count, _ in mqls.values())
    pacing = (
        f"{100 * delivered / goal_to_date:.0f}% of {goal_to_date:,.0f} goal to date"
        if goal_to_date
        else "no monthly goal"
    )
    columns = ("open", "awaiting_first_touch", "at_risk", "breached", "unconnected")
    ranked = sorted(teams.items(), key=lambda item: (-item[1]["open"], item[0]))
    team_rows = "".join(
        f"<tr><td>{escape(team)}</td>" + "".join(f"<td>{t[k]}</td>" for k in columns) + "</tr>"
        for team, t in ranked[:TEAM_ROWS]
    )
    if len(ranked) > TEAM_ROWS:
        rest = [t for _, t in ranked[TEAM_ROWS:]]
        team_rows += (
            f"<tr class='more'><td>{len(rest)} more teams</td>"
            + "".join(f"<td>{sum(t[k] for t in rest)}</td>" for k in columns)
            + "</tr>"
        )
    breach_rows = "".join(
        f"<tr class='{v.severity.value}'><td>{escape(format_ms(v.detected_at))}</td>"
        f"<td>{v.severity.value}</td><td>{v.rule.value}</td><td>{escape(v.lead_id)}</td>"
        f"<td>{escape(v.owner or '-')}</td><td>{escape(v.team or '-')}</td>"
        f"<td>{escape(format_ms(v.deadline_at))}</td></tr>"
        for v in recent
    )
    totals = {
        key: sum(t[key] for t in teams.values())
        for key in ("open", "awaiting_first_touch", "at_risk", "breached")
    }
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>stream-sla status</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
.cards {{ display: flex; gap: 1rem; flex-wrap: wrap; }}
.card {{ border: 1px solid #ccc; border-radius: 8px; padding: 1rem 1.5rem; min-width: 9rem; }}
.card b {{ display: block; font-size: 2rem; }}
table {{ border-collapse: collapse; margin-top: 1rem; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3rem .8rem; text-align: left; }}
tr.breach td {{ color: #b00020; }} tr.warning td {{ color: #8a6d00; }}
</style></head><body>
<h1>stream-sla</h1>
<p id="state">{"ready" if ready else "recovering state"}</p>
<div class="cards">
<div class="card" id="open">Open leads<b>{totals["open"]}</b></div>
<div class="card" id="awaiting">Awaiting first touch<b>{totals["awaiting_first_touch"]}</b></div>
<div class="card" id="at-risk">At risk<b>{totals["at_risk"]}</b></div>
<div class="card" id="breached">Breached<b>{totals["breached"]}</b></div>
<div class="card" id="mqls">MQLs this month<b>{delivered}</b>{pacing}</div>
</div>
<h2>By team</h2>
<table id="teams"><tr><th>team</th><th>open</th><th>awaiting first touch</th><th>at risk</th>
<th>breached</th><th>unconnected</th></tr>{team_rows}</table>
<h2>Latest warnings and breaches</h2>
<table id="recent"><tr><th>detected</th><th>severity</th><th>rule</th><th>lead</th><th>owner</th>
<th>team</th><th>deadline</th></tr>{breach_rows}</table>
</body></html>
"""
