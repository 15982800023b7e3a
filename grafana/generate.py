"""Grafana dashboards as code (grafana-foundation-sdk): `python grafana/generate.py`.

Writes grafana/dashboards/{sales-sla,marketing-sla,pipeline-health}.json. The JSON is
committed; tests/unit/test_dashboards.py checks it is what this script makes, and
tests/integration/test_prometheus_queries.py evaluates every query against a real
Prometheus scraping a real worker. Queries use only the variables $team, $source,
$segment (as regex matchers), $__rate_interval and $__range.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    dashboard,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import GraphDrawStyle
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUT = Path(__file__).resolve().parent / "dashboards"
DS = DataSourceRef(type_val="prometheus", uid="prometheus")
TEAM = 'team=~"$team"'
FIRST_TOUCH_TARGET_S = 3600
ATTEMPTS_TARGET = 6


def q(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        query = query.legend_format(legend)
    if instant:
        query = query.instant()
    return query


def variable(name: str, label: str, metric: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .query(f"label_values({metric}, {name})")
        .datasource(DS)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def base(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["stream-sla"])
        .refresh("30s")
        .time("now-7d", "now")
        .timezone("browser")
        .with_variable(variable("team", "Team", "stream_sla_open_leads"))
        .with_variable(variable("source", "Source", "stream_sla_mqls_total"))
        .with_variable(variable("segment", "Segment", "stream_sla_first_touch_seconds_count"))
    )


def sales() -> dashboard.Dashboard:
    outcomes = "stream_sla_rule_outcomes_total"
    compliance = (
        f'sum by (rule) (increase({outcomes}{{outcome="met", {TEAM}}}[7d]))'
        f' / sum by (rule) (increase({outcomes}{{outcome=~"met|breached", {TEAM}}}[7d]))'
    )
    points = f"increase(stream_sla_points_total{{{TEAM}}}[$__range])"
    rep = "stream_sla_rep_first_touch_seconds"
    return (
        base("stream-sla-sales", "Sales SLA", "Speed and depth of follow-up on handed-over leads.")
        .with_panel(
            timeseries.Panel()
            .title("Average first touch per day vs the 1-hour target")
            .description("Hand-off to first attempt, mean of the last day, per team.")
            .unit("s")
            .draw_style(GraphDrawStyle.BARS)
            .interval("1d")
            .with_target(q(f"team:stream_sla_first_touch_seconds:mean_1d{{{TEAM}}}", "{{team}}"))
            .with_target(q(f"vector({FIRST_TOUCH_TARGET_S})", "target", "B"))
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Average first touch per week vs the 1-hour target")
            .unit("s")
            .draw_style(GraphDrawStyle.BARS)
            .interval("7d")
            .with_target(q(f"team:stream_sla_first_touch_seconds:mean_7d{{{TEAM}}}", "{{team}}"))
            .with_target(q(f"vector({FIRST_TOUCH_TARGET_S})", "target", "B"))
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("First touch p50 and p90 by team (last hour)")
            .unit("s")
            .with_target(q(f"team:stream_sla_first_touch_seconds:p90_1h{{{TEAM}}}", "p90 {{team}}"))
            .with_target(
                q(f"team:stream_sla_first_touch_seconds:p50_1h{{{TEAM}}}", "p50 {{team}}", "B")
            )
            .with_target(q(f"vector({FIRST_TOUCH_TARGET_S})", "target", "C"))
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("First touch p90 by source and segment")
            .unit("s")
            .with_target(
                q(
                    "histogram_quantile(0.9, sum by (source, segment, le) (rate("
                    'stream_sla_first_touch_seconds_bucket{team=~"$team", source=~"$source",'
                    ' segment=~"$segment"}[$__rate_interval])))',
                    "{{source}} / {{segment}}",
                )
            )
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Attempts on unconnected leads vs the target of 6")
            .with_target(q(f"team:stream_sla_unconnected_attempts:avg{{{TEAM}}}", "{{team}}"))
            .with_target(q(f"vector({ATTEMPTS_TARGET})", "target", "B"))
            .span(12)
        )
        .with_panel(
            stat.Panel()
            .title("Compliance per rule (7 days)")
            .unit("percentunit")
            .with_target(q(compliance, "{{rule}}", instant=True))
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Compliance per rule and team (1 day)")
            .unit("percentunit")
            .with_target(
                q(f"rule_team:stream_sla_compliance:ratio_1d{{{TEAM}}}", "{{rule}} {{team}}")
            )
            .span(12)
        )
        .with_panel(
            bargauge.Panel()
            .title("Open leads at risk and breached, by team")
            .with_target(
                q(f"sum by (team) (stream_sla_leads_at_risk{{{TEAM}}})", "at risk {{team}}")
            )
            .with_target(
                q(f"sum by (team) (stream_sla_leads_breached{{{TEAM}}})", "breached {{team}}", "B")
            )
            .with_target(
                q(
                    f"sum by (team) (stream_sla_leads_awaiting_first_touch{{{TEAM}}})",
                    "awaiting first touch {{team}}",
                    "C",
                )
            )
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Breaches by rule and team (last hour)")
            .with_target(
                q(f"rule_team:stream_sla_breaches:increase_1h{{{TEAM}}}", "{{rule}} {{team}}")
            )
            .span(12)
        )
        .with_panel(
            table.Panel()
            .title("Leaderboard: points per rep (one per service level met)")
            .with_target(
                q(
                    f"sort_desc(sum by (team, rep) ({points}))",
                    instant=True,
                )
            )
            .span(12)
        )
        .with_panel(
            table.Panel()
            .title("Leaderboard: teams")
            .with_target(
                q(
                    f"sort_desc(sum by (team) ({points}))",
                    instant=True,
                )
            )
            .span(12)
        )
        .with_panel(
            table.Panel()
            .title("Mean first touch per rep (last hour)")
            .unit("s")
            .with_target(
                q(
                    f"sum by (team, rep) (rate({rep}_sum{{{TEAM}}}[1h]))"
                    f" / sum by (team, rep) (rate({rep}_count{{{TEAM}}}[1h]))",
                    instant=True,
                )
            )
            .span(12)
        )
    )


def marketing() -> dashboard.Dashboard:
    source = 'source=~"$source"'
    return (
        base("stream-sla-marketing", "Marketing SLA", "MQLs delivered against the monthly goal.")
        .time("now/M", "now")
        .with_panel(
            timeseries.Panel()
            .title("MQLs this month vs the goal line")
            .description("Cumulative MQLs (the waterfall) against goal x day / days in month.")
            .with_target(q(f"sum(stream_sla_mqls_month_to_date{{{source}}})", "MQLs delivered"))
            .with_target(q('max(stream_sla_mql_goal_to_date{source="all"})', "goal to date", "B"))
            .span(16)
        )
        .with_panel(
            stat.Panel()
            .title("Pacing against the goal to date")
            .unit("percentunit")
            .with_target(q("stream_sla:mql_pacing:ratio", instant=True))
            .span(8)
        )
        .with_panel(
            bargauge.Panel()
            .title("MQLs this month by source")
            .with_target(
                q(f"sum by (source) (stream_sla_mqls_month_to_date{{{source}}})", "{{source}}")
            )
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("MQLs per day by source")
            .draw_style(GraphDrawStyle.BARS)
            .interval("1d")
            .with_target(
                q(
                    "sum by (source) (increase(stream_sla_mqls_total"
                    f'{{{source}, segment=~"$segment"}}[1d]))',
                    "{{source}}",
                )
            )
            .span(12)
        )
        .with_panel(
            bargauge.Panel()
            .title("Value-weighted MQLs this month by source")
            .with_target(
                q(f"sum by (source) (stream_sla_mql_value_month_to_date{{{source}}})", "{{source}}")
            )
            .span(12)
        )
        .with_panel(
            stat.Panel()
            .title("Monthly MQL goal")
            .with_target(q('max(stream_sla_mql_goal_month{source="all"})', instant=True))
            .span(12)
        )
    )


def pipeline() -> dashboard.Dashboard:
    return (
        base("stream-sla-pipeline", "stream-sla pipeline health", "Is the SLA monitor healthy?")
        .time("now-6h", "now")
        .with_panel(
            timeseries.Panel()
            .title("Records consumed per second by topic")
            .with_target(
                q(
                    "sum by (topic) (rate(stream_sla_events_consumed_total[$__rate_interval]))",
                    "{{topic}}",
                )
            )
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Dead letters by reason (last hour)")
            .with_target(
                q("sum by (reason) (increase(stream_sla_dead_letters_total[1h]))", "{{reason}}")
            )
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Event-time lag and age of the last CRM event")
            .unit("s")
            .with_target(
                q("time() - max(stream_sla_last_event_timestamp_seconds)", "event-time lag")
            )
            .with_target(
                q(
                    "time() - max(stream_sla_last_event_received_timestamp_seconds)",
                    "since last event received",
                    "B",
                )
            )
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Consumer lag by topic")
            .with_target(q("sum by (topic) (stream_sla_consumer_lag)", "{{topic}}"))
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Leads in state and pending deadlines")
            .with_target(q("sum(stream_sla_state_leads)", "leads in state"))
            .with_target(q("sum(stream_sla_pending_deadlines)", "pending deadlines", "B"))
            .span(12)
        )
        .with_panel(
            timeseries.Panel()
            .title("Evictions and duplicates (last hour)")
            .with_target(q("sum(increase(stream_sla_evicted_leads_total[1h]))", "evicted"))
            .with_target(
                q("sum(increase(stream_sla_duplicate_events_total[1h]))", "duplicates", "B")
            )
            .span(12)
        )
        .with_panel(
            stat.Panel()
            .title("Workers up")
            .with_target(q('sum(up{job="stream-sla"})', instant=True))
            .span(24)
        )
    )


DASHBOARDS = {"sales-sla": sales, "marketing-sla": marketing, "pipeline-health": pipeline}


def render(name: str) -> str:
    built = DASHBOARDS[name]().build()
    encoded = json.loads(JSONEncoder(sort_keys=True).encode(built))
    for number, panel in enumerate(encoded["panels"], 1):
        panel["id"] = number
    return json.dumps(encoded, indent=2, sort_keys=True) + "\n"


def panel_queries(folder: Path = OUT) -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) of every target in the committed JSON."""
    for path in sorted(folder.glob("*.json")):
        data: dict[str, Any] = json.loads(path.read_text())
        for panel in data["panels"]:
            for target in panel.get("targets", []):
                yield data["uid"], panel["title"], target["expr"]


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        (out / f"{name}.json").write_text(render(name))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
