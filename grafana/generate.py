"""Grafana dashboards as code (grafana-foundation-sdk): `python grafana/generate.py [folder]`.

Writes sales-sla.json, marketing-sla.json and pipeline-health.json into grafana/dashboards/
(or the folder given). The JSON is committed: tests/unit/test_dashboards.py checks it is
byte for byte what this script makes, and tests/integration/test_prometheus_queries.py
evaluates every query (``panel_queries()``) against a real Prometheus scraping a real worker.

Invariants kept here, checked by the tests:
- every query and variable reads the ``${datasource}`` variable (``__inputs`` asks for it on
  import), so the dashboards work in any Grafana, not only with our provisioned uid;
- queries use only ``$team``, ``$source``, ``$segment``, ``$rep`` (always as
  ``label=~"$label"``, and only on metrics that carry that label), ``$__rate_interval``,
  ``$__range`` and ``$__interval`` (always as ``[$__range]``); a dashboard declares exactly the
  variables its queries use;
- target lines come from the policy's gauges (``stream_sla_rule_target_seconds``,
  ``stream_sla_compliance_objective``), one per policy segment, not from constants;
- heavy queries read the recording rules of deploy/prometheus/stream-sla.rules.yml;
- the output is deterministic: fixed uids, panel ids numbered in order, sorted keys.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    gauge,
    prometheus,
    stat,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    GraphDrawStyle,
    GraphThresholdsStyleMode,
    LegendDisplayMode,
    LegendPlacement,
    LineInterpolation,
    SortOrder,
    StackingMode,
    TooltipDisplayMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUT = Path(__file__).resolve().parent / "dashboards"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
DS_JSON = {"type": "prometheus", "uid": "${datasource}"}
DS_INPUT = "DS_PROMETHEUS"
"""The import prompt's name for the Prometheus to use: the datasource variable's default."""

FIRST_TOUCH_TARGET_S = 3600
"""Follow up within one hour: almost 7x as likely to reach a decision maker (the benchmark
behind the 'within 1 hour' stat; the policy's own targets come from its gauges)."""
ATTEMPTS_TARGET = 6
"""Six attempts per unconnected lead is the textbook ideal (an ideal, not a policy target)."""
COMPLIANCE_WARN, COMPLIANCE_TARGET = 0.9, 0.95
"""Colour steps of compliance stats; the policy's objectives are drawn as lines."""
FIRST_TOUCH_TARGETS = 'max by (policy_segment) (stream_sla_rule_target_seconds{rule="first_touch"})'
PACING_LOW, PACING_HIGH = 0.9, 1.1
"""Missing or over-delivering the MQL goal by about 10% in a month is normal."""

TEAM = 'team=~"$team"'
SOURCE = 'source=~"$source"'
SEGMENT = 'segment=~"$segment"'
REP = 'rep=~"$rep"'
LEAD = f"{TEAM}, {SOURCE}, {SEGMENT}"

Panel = timeseries.Panel | stat.Panel | gauge.Panel | bargauge.Panel | table.Panel | dashboard.Row


# --- queries -------------------------------------------------------------------------------


Query = cogbuilder.Builder[variants.Dataquery]


def series(expr: str, legend: str = "", ref: str = "A") -> Query:
    """A range query (one value per step) for time series panels."""
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS).range()
    return query.legend_format(legend) if legend else query


def now(expr: str, legend: str = "", ref: str = "A", rows: bool = False) -> Query:
    """An instant query (the value at the end of the range); ``rows`` formats it as a table."""
    query = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS).instant()
    if rows:
        query = query.format(PromQueryFormat.TABLE)
    return query.legend_format(legend) if legend else query


def mean_first_touch(labels: str, window: str) -> str:
    name = "stream_sla_first_touch_seconds"
    return (
        f"sum(increase({name}_sum{{{labels}}}[{window}]))"
        f" / sum(increase({name}_count{{{labels}}}[{window}]))"
    )


def share_within(le: str) -> str:
    """Share of first touches within ``le`` seconds (a bucket bound, as exported: ``3600.0``)."""
    return (
        f'sum(increase(stream_sla_first_touch_seconds_bucket{{{LEAD}, le="{le}"}}[$__range]))'
        f" / sum(increase(stream_sla_first_touch_seconds_count{{{LEAD}}}[$__range]))"
    )


# --- field config --------------------------------------------------------------------------


def steps(base: str, *bounds: tuple[float, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps(
            [Threshold(value=None, color=base)] + [Threshold(value=v, color=c) for v, c in bounds]
        )
    )


def above_is_bad(limit: float) -> dashboard.ThresholdsConfig:
    return steps("green", (limit, "red"))


def compliance_steps() -> dashboard.ThresholdsConfig:
    return steps("red", (COMPLIANCE_WARN, "yellow"), (COMPLIANCE_TARGET, "green"))


def target_line(
    panel: timeseries.Panel, thresholds: dashboard.ThresholdsConfig
) -> timeseries.Panel:
    """Draws the thresholds as dashed lines: the target the series is read against."""
    return panel.thresholds(thresholds).thresholds_style(
        common.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
    )


def policy_line(panel: timeseries.Panel, pattern: str) -> timeseries.Panel:
    """Series whose name matches ``pattern`` (the policy's targets) as dashed red lines."""
    return panel.override_by_regexp(
        pattern,
        override(
            "",
            color={"mode": "fixed", "fixedColor": "red"},
            custom__drawStyle="line",
            custom__fillOpacity=0,
            custom__lineWidth=2,
            custom__lineStyle={"fill": "dash", "dash": [10, 10]},
        )[1],
    )


def override(name: str, **properties: Any) -> tuple[str, list[DynamicConfigValue]]:
    """Field overrides for the series or column ``name``; ``custom__x`` stands for ``custom.x``."""
    return name, [
        DynamicConfigValue(id_val=key.replace("__", "."), value=value)
        for key, value in properties.items()
    ]


# --- panels --------------------------------------------------------------------------------


def graph(title: str, description: str, unit: str = "short") -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .min(0)
        .fill_opacity(10)
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
        .tooltip(
            common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING)
        )
        .span(12)
        .height(9)
    )


def bars(title: str, description: str, interval: str, unit: str = "short") -> timeseries.Panel:
    """One bar per ``interval`` (the panel's minimum step), side by side per series."""
    return (
        graph(title, description, unit)
        .draw_style(GraphDrawStyle.BARS)
        .fill_opacity(80)
        .interval(interval)
        .stacking(common.StackingConfig().mode(StackingMode.NONE))
    )


def stacked(panel: timeseries.Panel) -> timeseries.Panel:
    return panel.stacking(common.StackingConfig().mode(StackingMode.NORMAL))


def single(title: str, description: str, unit: str = "short") -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .color_mode(BigValueColorMode.VALUE)
        .graph_mode(BigValueGraphMode.NONE)
        .thresholds(steps("blue"))
        .span(6)
        .height(5)
    )


def ranking(title: str, description: str, unit: str = "short") -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .min(0)
        .orientation(VizOrientation.HORIZONTAL)
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(steps("blue"))
        .span(12)
        .height(9)
    )


def grid(
    title: str, description: str, labels: list[str], columns: dict[str, str], sort_by: str
) -> table.Panel:
    """Instant queries (refs ``columns``) merged into one row per ``labels``, sorted descending.

    Prometheus names a table query's value column ``Value #<ref>`` (``Value`` when alone);
    the organize step orders (by the original names), renames them and drops the time column.
    """
    values = {
        ("Value" if len(columns) == 1 else f"Value #{ref}"): name for ref, name in columns.items()
    }
    order = {name: i for i, name in enumerate([*labels, *values])}
    return (
        table.Panel()
        .title(title)
        .description(description)
        .transformations(
            [
                DataTransformerConfig(id_val="merge", options={}),
                DataTransformerConfig(
                    id_val="organize",
                    options={
                        "excludeByName": {"Time": True, "__name__": True},
                        "renameByName": values,
                        "indexByName": order,
                    },
                ),
            ]
        )
        .sort_by([common.TableSortByFieldState().display_name(sort_by).desc(True)])
        .span(12)
        .height(9)
    )


def compliance_matrix(title: str, description: str, rows: str) -> table.Panel:
    """One row per ``rows`` label value, one coloured column per rule (met / settled)."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .with_transformation(
            DataTransformerConfig(
                id_val="groupingToMatrix",
                options={"columnField": "rule", "rowField": rows, "valueField": "Value"},
            )
        )
        .unit("percentunit")
        .thresholds(compliance_steps())
        .override_by_regexp(
            f"^(?!{rows}).*", override("", custom__cellOptions={"type": "color-background"})[1]
        )
        .span(12)
        .height(8)
    )


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)


# --- dashboards ----------------------------------------------------------------------------


def datasource_variable() -> dashboard.DatasourceVariable:
    """Which Prometheus to read: any of the Grafana's; import fills in the one chosen."""
    return (
        dashboard.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(VariableOption(text=f"${{{DS_INPUT}}}", value=f"${{{DS_INPUT}}}", selected=True))
    )


def variable(name: str, label: str, metric: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .query(f"label_values({metric}, {name})")
        .datasource(DS)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def board(
    uid: str,
    title: str,
    description: str,
    time_from: str,
    variables: list[dashboard.QueryVariable],
    panels: list[Panel],
) -> dashboard.Dashboard:
    built = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["stream-sla"])
        .refresh("1m")
        .time(time_from, "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard.DashboardLink("stream-sla")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["stream-sla"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(False)
        )
    )
    built = built.with_variable(datasource_variable())
    for var in variables:
        built = built.with_variable(var)
    for panel in panels:
        built = (
            built.with_row(panel) if isinstance(panel, dashboard.Row) else built.with_panel(panel)
        )
    return built


def sales() -> dashboard.Dashboard:
    hint = "Hand-off to the first contact attempt (speed to lead), wall-clock time."
    open_gauges = {
        "A": ("stream_sla_open_leads", "Open"),
        "B": ("stream_sla_leads_awaiting_first_touch", "Awaiting first touch"),
        "C": ("stream_sla_unconnected_leads", "Unconnected"),
        "D": ("stream_sla_leads_at_risk", "At risk"),
        "E": ("stream_sla_leads_breached", "Breached"),
    }
    attempts = f"team:stream_sla_unconnected_attempts:avg{{{TEAM}}}"
    outcomes = "stream_sla_rule_outcomes_total"
    rep_first_touch = "stream_sla_rep_first_touch_seconds"
    rep_outcomes = "stream_sla_rep_rule_outcomes_total"
    by_rep = f"{TEAM}, {REP}"
    panels: list[Panel] = [
        row("Speed to lead: hand-off to first attempt"),
        single(
            "First touches within 1 hour",
            f"{hint} Share of the selected range's first touches that took at most an hour.",
            "percentunit",
        )
        .thresholds(compliance_steps())
        .with_target(now(share_within("3600.0"))),
        single(
            "First touches within 5 minutes",
            "Share of the selected range's first touches made within five minutes"
            " (the benchmark: only 7% of leads get one).",
            "percentunit",
        ).with_target(now(share_within("300.0"))),
        single("Mean first touch", f"{hint} Mean over the selected range.", "s")
        .thresholds(above_is_bad(FIRST_TOUCH_TARGET_S))
        .with_target(now(mean_first_touch(LEAD, "$__range"))),
        single(
            "Open leads awaiting first touch", "Open leads with no contact attempt yet, now."
        ).with_target(now(f"sum(stream_sla_leads_awaiting_first_touch{{{TEAM}}})")),
        policy_line(
            bars(
                "Mean first touch per day vs the policy's targets",
                f"{hint} Mean of each day (UTC) per team; the dashed lines are the policy's"
                " first-touch targets, one per policy segment.",
                "1d",
                "s",
            ),
            "^target ",
        )
        .with_target(series(f"team:stream_sla_first_touch_seconds:mean_1d{{{TEAM}}}", "{{team}}"))
        .with_target(series(FIRST_TOUCH_TARGETS, "target {{policy_segment}}", "B")),
        policy_line(
            bars(
                "Mean first touch per week vs the policy's targets",
                f"{hint} Mean of each 7-day step per team; the dashed lines are the policy's"
                " first-touch targets, one per policy segment.",
                "7d",
                "s",
            ),
            "^target ",
        )
        .with_target(series(f"team:stream_sla_first_touch_seconds:mean_7d{{{TEAM}}}", "{{team}}"))
        .with_target(series(FIRST_TOUCH_TARGETS, "target {{policy_segment}}", "B")),
        policy_line(
            graph(
                "First touch p50 and p90 by team (trailing hour)",
                f"{hint} Half / nine in ten of the last hour's first touches took at most this;"
                " dashed: the policy's targets.",
                "s",
            ),
            "^target ",
        )
        .with_target(
            series(f"team:stream_sla_first_touch_seconds:p50_1h{{{TEAM}}}", "p50 {{team}}")
        )
        .with_target(
            series(f"team:stream_sla_first_touch_seconds:p90_1h{{{TEAM}}}", "p90 {{team}}", "B")
        )
        .with_target(series(FIRST_TOUCH_TARGETS, "target {{policy_segment}}", "C")),
        ranking(
            "First touch p90 by source and segment",
            f"{hint} 90th percentile over the selected range (from the histogram buckets).",
            "s",
        )
        .thresholds(above_is_bad(FIRST_TOUCH_TARGET_S))
        .with_target(
            now(
                "histogram_quantile(0.9, sum by (source, segment, le) (increase("
                f"stream_sla_first_touch_seconds_bucket{{{LEAD}}}[$__range])))",
                "{{source}} / {{segment}}",
            )
        ),
        row("Depth of follow-up: attempts on unconnected leads"),
        target_line(
            graph(
                "Average attempts on unconnected open leads vs the ideal of 6",
                "Contact attempts per open lead not yet connected, per team; the dashed line is"
                " the textbook six (cadence: 3 in 2 weeks, 5 in 4, 7 in 8).",
            ),
            steps("red", (ATTEMPTS_TARGET, "green")),
        ).with_target(series(attempts, "{{team}}")),
        grid(
            "Open leads by team",
            "Open hand-off cycles now: not yet touched, not yet connected, warned before a"
            " breach (at risk), already breached in this cycle; average attempts on the"
            " unconnected ones.",
            ["team"],
            {ref: name for ref, (_, name) in open_gauges.items()} | {"F": "Attempts (unconnected)"},
            "Breached",
        )
        .override_by_name(*override("Attempts (unconnected)", decimals=1))
        .targets(
            [
                now(f"sum by (team) ({metric}{{{TEAM}}})", ref=ref, rows=True)
                for ref, (metric, _) in open_gauges.items()
            ]
            + [now(f"sum by (team) ({attempts})", ref="F", rows=True)]
        ),
        row("Compliance per rule"),
        gauge.Panel()
        .title("Compliance per rule")
        .description(
            "Rules met / (met + breached) over the selected range, for the selected teams."
            " Rules stopped before they were due (lead closed) do not count."
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(compliance_steps())
        .span(12)
        .height(8)
        .with_target(
            now(
                f'sum by (rule) (increase({outcomes}{{outcome="met", {TEAM}}}[$__range]))'
                f" / sum by (rule) (increase({outcomes}"
                f'{{outcome=~"met|breached", {TEAM}}}[$__range]))',
                "{{rule}}",
            )
        ),
        compliance_matrix(
            "Compliance by team and rule (trailing 7 days)",
            "Which team is out of compliance, rule by rule (met / (met + breached)).",
            "team",
        ).with_target(now(f"rule_team:stream_sla_compliance:ratio_7d{{{TEAM}}}", rows=True)),
        policy_line(
            graph(
                "Compliance per rule and team (trailing day)",
                "Met / (met + breached) over the trailing 24 hours; dashed: the policy's"
                " compliance objective per rule (the lowest of its segments).",
                "percentunit",
            ).max(1),
            "^objective ",
        )
        .with_target(
            series(f"rule_team:stream_sla_compliance:ratio_1d{{{TEAM}}}", "{{rule}} · {{team}}")
        )
        .with_target(
            series("min by (rule) (stream_sla_compliance_objective)", "objective {{rule}}", "B")
        ),
        policy_line(
            graph(
                "Compliance per rule and policy segment (28 days) vs objective",
                "The SLO view: met / (met + breached) over the trailing 28 days per rule and"
                " policy segment (the burn-rate alerts' window); dashed: each one's objective.",
                "percentunit",
            ).max(1),
            "^objective ",
        )
        .with_target(
            series(
                "policy_segment_rule:stream_sla_compliance:ratio_28d",
                "{{rule}} · {{policy_segment}}",
            )
        )
        .with_target(
            series(
                "max by (rule, policy_segment) (stream_sla_compliance_objective)",
                "objective {{rule}} · {{policy_segment}}",
                "B",
            )
        ),
        graph(
            "Error budget left (28 days)",
            "Share of each rule and policy segment's 28-day error budget (1 - objective) not"
            " yet spent; below 0 the objective is missed. The burn-rate alerts page or open a"
            " ticket when it goes fast.",
            "percentunit",
        )
        .thresholds(steps("red", (0, "yellow"), (0.5, "green")))
        .with_target(
            series(
                "policy_segment_rule:stream_sla_error_budget:remaining_28d",
                "{{rule}} · {{policy_segment}}",
            )
        ),
        row("Out of compliance"),
        graph(
            "At-risk and breached open leads by team",
            "Open leads warned before a breach (at risk) and open leads already breached.",
        )
        .with_target(
            series(f"sum by (team) (stream_sla_leads_at_risk{{{TEAM}}})", "at risk · {{team}}")
        )
        .with_target(
            series(
                f"sum by (team) (stream_sla_leads_breached{{{TEAM}}})", "breached · {{team}}", "B"
            )
        ),
        stacked(
            bars(
                "Breaches per hour by rule and team",
                "Breaches published per hour (each also goes to the breach topic for the CRM).",
                "1h",
            )
        ).with_target(
            series(f"rule_team:stream_sla_breaches:increase_1h{{{TEAM}}}", "{{rule}} · {{team}}")
        ),
        stacked(
            bars(
                "Warnings per hour by rule and team",
                "Pre-breach warnings (reminders sent before the deadline) per hour.",
                "1h",
            )
        ).with_target(
            series(
                "sum by (rule, team) (increase(stream_sla_violations_total"
                f'{{severity="warning", {TEAM}}}[1h]))',
                "{{rule}} · {{team}}",
            )
        ),
        row("Accountability: per rep"),
        compliance_matrix(
            "Compliance by rep and rule",
            "Which rep is out of compliance, rule by rule: met / (met + breached) over the"
            " selected range for the leads each rep owned. Reps not in known_reps are grouped"
            " in stable buckets other-NN.",
            "rep",
        ).with_target(
            now(
                f'sum by (rep, rule) (increase({rep_outcomes}{{outcome="met", {TEAM}, {REP}}}'
                "[$__range])) / sum by (rep, rule) (increase("
                f'{rep_outcomes}{{outcome=~"met|breached", {TEAM}, {REP}}}[$__range]))',
                rows=True,
            )
        ),
        grid(
            "Breaches and at-risk leads by rep",
            "Breaches over the selected range (all rules) and open leads at risk or breached"
            " now, per rep.",
            ["team", "rep"],
            {"A": "Breaches", "B": "At risk now", "C": "Breached now", "D": "Open now"},
            "Breaches",
        ).targets(
            [
                now(
                    f"sum by (team, rep) (increase({rep_outcomes}"
                    f'{{outcome="breached", {TEAM}, {REP}}}[$__range]))',
                    rows=True,
                ),
                now(
                    f"sum by (team, rep) (stream_sla_rep_leads_at_risk{{{TEAM}, {REP}}})",
                    ref="B",
                    rows=True,
                ),
                now(
                    f"sum by (team, rep) (stream_sla_rep_leads_breached{{{TEAM}, {REP}}})",
                    ref="C",
                    rows=True,
                ),
                now(
                    f"sum by (team, rep) (stream_sla_rep_open_leads{{{TEAM}, {REP}}})",
                    ref="D",
                    rows=True,
                ),
            ]
        ),
        graph(
            "At-risk open leads by rep",
            "Open leads warned before a breach, per rep: whose queue needs help now.",
        ).with_target(
            series(
                f"sum by (team, rep) (stream_sla_rep_leads_at_risk{{{TEAM}, {REP}}})",
                "{{rep}} · {{team}}",
            )
        ),
        row("Leaderboard: this month"),
        grid(
            "Leaderboard: reps this month",
            "One point per service level met; the rep's mean first touch and first touches.",
            ["team", "rep"],
            {"A": "Points", "B": "Mean first touch", "C": "First touches"},
            "Points",
        )
        .time_from("now/M")
        .override_by_name(*override("Mean first touch", unit="s"))
        .targets(
            [
                now(
                    f"sum by (team, rep) (increase(stream_sla_points_total{{{by_rep}}}[$__range]))",
                    rows=True,
                ),
                now(
                    f"sum by (team, rep) (increase({rep_first_touch}_sum{{{by_rep}}}[$__range]))"
                    " / sum by (team, rep)"
                    f" (increase({rep_first_touch}_count{{{by_rep}}}[$__range]))",
                    ref="B",
                    rows=True,
                ),
                now(
                    f"sum by (team, rep) (increase({rep_first_touch}_count{{{by_rep}}}[$__range]))",
                    ref="C",
                    rows=True,
                ),
            ]
        ),
        grid(
            "Leaderboard: teams this month",
            "Points per team (one per service level met): the highest total of the quarter wins.",
            ["team"],
            {"A": "Points"},
            "Points",
        )
        .time_from("now/M")
        .with_target(
            now(f"sum by (team) (increase(stream_sla_points_total{{{TEAM}}}[$__range]))", rows=True)
        ),
    ]
    return board(
        "stream-sla-sales",
        "Sales SLA",
        "Sales' side of the SLA: speed (first touch) and depth (attempts) of follow-up on the"
        " leads marketing hands over, compliance per rule, who is out of compliance, leaderboard.",
        "now-30d",
        [
            variable("team", "Team", "stream_sla_open_leads"),
            variable("source", "Source", "stream_sla_first_touch_seconds_count"),
            variable("segment", "Segment", "stream_sla_first_touch_seconds_count"),
            variable("rep", "Rep", "stream_sla_rep_rule_outcomes_total"),
        ],
        panels,
    )


def marketing() -> dashboard.Dashboard:
    delivered = "stream_sla:mqls_month_to_date:sum"
    goal_line = 'max(stream_sla_mql_goal_to_date{source="all"})'
    # Per source, plus a row "all" (every source against the overall goal).
    mqls = (
        f"sum by (source) (stream_sla_mqls_month_to_date{{{SOURCE}}})"
        ' or label_replace(sum(stream_sla_mqls_month_to_date), "source", "all", "", "")'
    )
    value = (
        f"sum by (source) (stream_sla_mql_value_month_to_date{{{SOURCE}}})"
        ' or label_replace(sum(stream_sla_mql_value_month_to_date), "source", "all", "", "")'
    )
    goal = (
        f"max by (source) (stream_sla_mql_goal_to_date{{{SOURCE}}}"
        ' or stream_sla_mql_goal_to_date{source="all"})'
    )
    month_goal = (
        f"max by (source) (stream_sla_mql_goal_month{{{SOURCE}}}"
        ' or stream_sla_mql_goal_month{source="all"})'
    )
    per_step = "sum by ({label}) (increase(stream_sla_mqls_total{{{matchers}}}[$__interval]))"
    pacing_steps = steps("red", (PACING_LOW, "green"), (PACING_HIGH, "blue"))
    panels: list[Panel] = [
        row("This month against the goal"),
        single(
            "Pacing against the goal to date",
            "MQLs this month / the goal to date (monthly goal x day / days in month)."
            " Within 90-110% is normal; below needs a look, above may mean the goal is low.",
            "percentunit",
        )
        .thresholds(pacing_steps)
        .with_target(now("stream_sla:mql_pacing:ratio")),
        single("MQLs this month", "Leads created this calendar month, all sources.").with_target(
            now(delivered)
        ),
        single(
            "Goal to date", "Where the goal line is today: monthly goal x day / days in month."
        ).with_target(now(goal_line)),
        single(
            "Monthly MQL goal", "From the policy (the sales quota worked back through the funnel)."
        ).with_target(now('max(stream_sla_mql_goal_month{source="all"})')),
        graph(
            "Cumulative MQLs vs the goal line (the waterfall)",
            "MQLs delivered so far this month (all sources) against the goal line, which grows"
            " by goal / days in month each day.",
        )
        .line_interpolation(LineInterpolation.STEP_AFTER)
        .fill_opacity(40)
        .span(24)
        .height(10)
        .override_by_name(
            *override(
                "goal to date",
                color={"mode": "fixed", "fixedColor": "red"},
                custom__fillOpacity=0,
                custom__lineWidth=2,
                custom__lineStyle={"fill": "dash", "dash": [10, 10]},
            )
        )
        .with_target(series(delivered, "MQLs delivered"))
        .with_target(series(goal_line, "goal to date", "B")),
        stacked(
            graph(
                "Cumulative MQLs this month by source",
                "MQLs delivered so far this month, stacked by source.",
            )
            .line_interpolation(LineInterpolation.STEP_AFTER)
            .fill_opacity(40)
        ).with_target(
            series(f"sum by (source) (stream_sla_mqls_month_to_date{{{SOURCE}}})", "{{source}}")
        ),
        grid(
            "This month by source: MQLs, value, goal and pacing",
            "Per source, plus 'all' (every source against the overall goal). Goal and pacing"
            " are empty for sources without a goal of their own in the policy.",
            ["source"],
            {
                "A": "MQLs",
                "B": "Weighted value",
                "C": "Goal to date",
                "D": "Monthly goal",
                "E": "Pacing",
            },
            "MQLs",
        )
        .override_by_name(
            *override(
                "Pacing",
                unit="percentunit",
                thresholds=pacing_steps.build().to_json(),
                custom__cellOptions={"type": "color-background"},
            )
        )
        .targets(
            [
                now(mqls, rows=True),
                now(value, ref="B", rows=True),
                now(goal, ref="C", rows=True),
                now(month_goal, ref="D", rows=True),
                now(f"({mqls}) / on (source) ({goal})", ref="E", rows=True),
            ]
        ),
        ranking("MQLs this month by source", "Leads created this month per source.").with_target(
            now(f"sum by (source) (stream_sla_mqls_month_to_date{{{SOURCE}}})", "{{source}}")
        ),
        ranking(
            "Value-weighted MQLs this month by source",
            "MQLs weighted by persona (e.g. CEO 100, director 50, manager 40) per source.",
        ).with_target(
            now(f"sum by (source) (stream_sla_mql_value_month_to_date{{{SOURCE}}})", "{{source}}")
        ),
        row("Day by day"),
        stacked(
            bars(
                "MQLs per day by source",
                "Leads created per day (per step when zoomed out past a month or two).",
                "1d",
            )
        ).with_target(
            series(per_step.format(label="source", matchers=f"{SOURCE}, {SEGMENT}"), "{{source}}")
        ),
        stacked(
            bars(
                "MQLs per day by segment",
                "Leads created per day by segment (SMB and enterprise leads convert differently).",
                "1d",
            )
        ).with_target(
            series(per_step.format(label="segment", matchers=f"{SOURCE}, {SEGMENT}"), "{{segment}}")
        ),
    ]
    return board(
        "stream-sla-marketing",
        "Marketing SLA",
        "Marketing's side of the SLA: MQLs delivered this month against the goal line, by source.",
        "now/M",
        [
            variable("source", "Source", "stream_sla_mqls_total"),
            variable("segment", "Segment", "stream_sla_mqls_total"),
        ],
        panels,
    )


def pipeline() -> dashboard.Dashboard:
    event_lag = "time() - max(stream_sla_last_event_timestamp_seconds)"
    idle = "time() - max(stream_sla_last_event_received_timestamp_seconds)"
    panels: list[Panel] = [
        row("Now"),
        single("Workers up", "stream-sla workers Prometheus can scrape.")
        .thresholds(steps("red", (1, "green")))
        .with_target(now('sum(up{job="stream-sla"})')),
        single(
            "Event-time lag",
            "Now minus occurred_at of the newest CRM event processed. Also grows while the CRM"
            " is quiet (nights, weekends).",
            "s",
        )
        .thresholds(steps("green", (300, "yellow"), (900, "red")))
        .with_target(now(event_lag)),
        single("Consumer lag", "CRM records on the broker not yet processed, all topics.")
        .thresholds(steps("green", (1000, "yellow"), (10000, "red")))
        .with_target(now("sum(stream_sla_consumer_lag)")),
        single("Dead letters", "Records sent to the dead-letter topic in the selected range.")
        .thresholds(steps("green", (1, "red")))
        .with_target(now("sum(increase(stream_sla_dead_letters_total[$__range]))")),
        row("Throughput and errors"),
        graph("Records consumed per second by topic", "CRM and internal records consumed.")
        .with_target(
            series(
                "sum by (topic) (rate(stream_sla_events_consumed_total[$__rate_interval]))",
                "{{topic}}",
            )
        )
        .with_target(series("stream_sla:crm_events:rate_5m", "all CRM topics (5m)", "B")),
        graph(
            "Dead letters per second by reason",
            "Records refused (malformed, too late, too far ahead...) by reason code.",
        ).with_target(
            series(
                "sum by (reason) (rate(stream_sla_dead_letters_total[$__rate_interval]))",
                "{{reason}}",
            )
        ),
        graph(
            "Event-time lag and time since the last event",
            "Event-time lag: now - occurred_at of the newest event. Since the last event: now -"
            " when it was processed (pipeline liveness).",
            "s",
        )
        .with_target(series(event_lag, "event-time lag"))
        .with_target(series(idle, "since the last event was processed", "B")),
        graph("Consumer lag by topic", "Records on the broker not yet processed.").with_target(
            series("sum by (topic) (stream_sla_consumer_lag)", "{{topic}}")
        ),
        row("State"),
        graph(
            "Pending deadlines by worker", "Warnings and breaches scheduled in each deadline index."
        ).with_target(series("sum by (instance) (stream_sla_pending_deadlines)", "{{instance}}")),
        graph(
            "Leads in state by worker", "Lead states kept on each worker's partitions."
        ).with_target(series("sum by (instance) (stream_sla_state_leads)", "{{instance}}")),
        graph(
            "Evictions and duplicates per second",
            "Lead states dropped after their retention; events ignored as already applied.",
        )
        .with_target(
            series("sum(rate(stream_sla_evicted_leads_total[$__rate_interval]))", "evicted")
        )
        .with_target(
            series(
                "sum by (topic) (rate(stream_sla_duplicate_events_total[$__rate_interval]))",
                "duplicates · {{topic}}",
                "B",
            )
        ),
        graph("Workers up by instance", "1 when Prometheus scrapes the worker.")
        .max(1)
        .with_target(series('up{job="stream-sla"}', "{{instance}}")),
    ]
    return board(
        "stream-sla-pipeline",
        "stream-sla pipeline health",
        "Is the SLA monitor itself healthy: throughput, dead letters, lag, state, workers.",
        "now-6h",
        [],
        panels,
    )


DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "sales-sla": sales,
    "marketing-sla": marketing,
    "pipeline-health": pipeline,
}


IMPORT_INPUTS = [
    {
        "name": DS_INPUT,
        "label": "Prometheus",
        "description": "The Prometheus that scrapes the stream-sla workers.",
        "type": "datasource",
        "pluginId": "prometheus",
        "pluginName": "Prometheus",
    }
]
"""Grafana's import asks for these; provisioning ignores them (the variable then takes the
default Prometheus)."""


def render(name: str) -> str:
    built = DASHBOARDS[name]().build()
    encoded: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True).encode(built))
    encoded["__inputs"] = IMPORT_INPUTS
    for number, panel in enumerate(encoded["panels"], 1):
        panel["id"] = number
        if panel["type"] != "row":
            panel["datasource"] = DS_JSON
    return json.dumps(encoded, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def panel_queries(folder: Path = OUT) -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expr) of every target in the JSON files of ``folder``."""
    queries: list[tuple[str, str, str]] = []
    for path in sorted(folder.glob("*.json")):
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for panel in data["panels"]:
            for target in panel.get("targets") or []:
                queries.append((data["uid"], panel["title"], target["expr"]))
    return queries


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        (out / f"{name}.json").write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
