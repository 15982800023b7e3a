"""The committed dashboards are what grafana/generate.py makes, and every query is sound.

"Sound" without a Prometheus (tests/integration/test_prometheus_queries.py evaluates the
queries on a real one): each names only metrics the worker exports or the recording rules
record, uses the Grafana variables only where they are allowed, and is balanced once they
are substituted.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from stream_sla.metrics import Metrics, catalog

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
RULE_FILES = (
    ROOT / "deploy" / "prometheus" / "stream-sla.rules.yml",
    ROOT / "deploy" / "prometheus" / "stream-sla.slo.rules.yml",
)
DASHBOARDS = ("sales-sla.json", "marketing-sla.json", "pipeline-health.json")

LABEL_VARIABLES = ("team", "source", "segment", "rep")
"""Always used as a regex matcher on the label of the same name: ``team=~"$team"``."""
RANGE_VARIABLES = ("$__rate_interval", "$__range", "$__interval")
"""Always used as a range: ``[$__range]``."""
SUBSTITUTES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"} | {
    f"${name}": ".*" for name in LABEL_VARIABLES
}

KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
FUNCTIONS = {
    # aggregation operators
    *("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"),
    *("bottomk", "topk", "quantile", "limitk", "limit_ratio"),
    # functions
    *("abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min"),
    *("day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp"),
    *("floor", "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile"),
    *("histogram_stddev", "histogram_stdvar", "histogram_sum", "hour", "idelta", "increase"),
    *("irate", "label_join", "label_replace", "ln", "log2", "log10", "minute", "month"),
    *("predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc"),
    *("sort_by_label", "sort_by_label_desc", "sqrt", "time", "timestamp", "vector", "year"),
    *("avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time"),
    *("quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time"),
    *("present_over_time", "mad_over_time"),
}


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", GRAFANA / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = load_generator()
QUERIES: list[tuple[str, str, str]] = GENERATOR.panel_queries()
QUERY_IDS = [f"{uid}/{title}/{n}" for n, (uid, title, _) in enumerate(QUERIES)]


def committed() -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((GRAFANA / "dashboards" / name).read_text(encoding="utf-8"))
        for name in DASHBOARDS
    }


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data (rows only group them)."""
    return [p for p in board["panels"] if p["type"] != "row"]


@functools.cache
def known_metrics() -> frozenset[str]:
    names = {"up"}
    for name, kind, _, _ in catalog(Metrics()):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif kind == "summary":
            names |= {f"{name}_sum", f"{name}_count"}
    groups = [g for path in RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]]
    return frozenset(names | {r["record"] for g in groups for r in g["rules"] if "record" in r})


RECORDED_LEVELS = {
    "team": {"team"},
    "rule": {"rule"},
    "rule_team": {"rule", "team"},
    "stream_sla": set(),
}
"""Labels a recording rule keeps, by its name's level (``level:metric:operation``)."""


@functools.cache
def metric_labels() -> dict[str, frozenset[str]]:
    """The labels each exported or recorded series carries (``le`` on buckets)."""
    labels: dict[str, frozenset[str]] = {"up": frozenset({"job", "instance"})}
    for name, kind, names, _ in catalog(Metrics()):
        labels[name] = frozenset(names)
        for suffix in ("_bucket", "_sum", "_count") if kind in ("histogram", "summary") else ():
            labels[name + suffix] = frozenset(names) | ({"le"} if suffix == "_bucket" else set())
    for name in known_metrics():
        if ":" in name:
            level = name.split(":")[0]
            kept = {"rule", "policy_segment"} if level == "policy_segment_rule" else None
            labels[name] = frozenset(kept if kept is not None else RECORDED_LEVELS[level])
    return labels


def identifiers(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, function names) of a PromQL expression, read crudely.

    Strings, label matchers, ranges and grouping label lists are removed first; what is
    left is a function when an opening parenthesis follows, else a keyword or a metric.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = GROUPING.sub(" ", text)
    metrics: set[str] = set()
    functions: set[str] = set()
    for match in re.finditer(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group()
        if text[match.end() :].lstrip().startswith("("):
            functions.add(word)
        elif word.lower() not in KEYWORDS:
            metrics.add(word)
    return metrics, functions


def substitute(expr: str) -> str:
    for variable in sorted(SUBSTITUTES, key=len, reverse=True):
        expr = expr.replace(variable, SUBSTITUTES[variable])
    return expr


def test_committed_json_is_what_the_generator_makes(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    GENERATOR.main(first)
    GENERATOR.main(second)
    assert sorted(p.name for p in first.glob("*.json")) == sorted(DASHBOARDS)
    for name in DASHBOARDS:
        made = (first / name).read_bytes()
        assert made == (second / name).read_bytes(), f"{name} differs between two runs"
        assert (GRAFANA / "dashboards" / name).read_bytes() == made, (
            f"grafana/dashboards/{name} is stale: run `python grafana/generate.py`"
        )


def test_dashboards_have_fixed_uids_and_numbered_panels() -> None:
    boards = committed()
    assert {b["uid"] for b in boards.values()} == {
        "stream-sla-sales",
        "stream-sla-marketing",
        "stream-sla-pipeline",
    }
    for name, board in boards.items():
        assert board.get("id") is None, name
        assert [p["id"] for p in board["panels"]] == list(range(1, len(board["panels"]) + 1))


DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def test_every_panel_and_query_reads_the_datasource_variable() -> None:
    for name, board in committed().items():
        for panel in panels(board):
            targets = panel.get("targets") or []
            assert any(t.get("expr", "").strip() for t in targets), f"{name} / {panel['title']}"
            assert panel["datasource"] == DATASOURCE, f"{name} / {panel['title']}"
            for target in targets:
                assert target["datasource"] == DATASOURCE, f"{name} / {panel['title']}"


def test_import_asks_for_a_prometheus_and_nothing_names_our_uid() -> None:
    for name, board in committed().items():
        assert board["__inputs"] == [
            {
                "name": "DS_PROMETHEUS",
                "label": "Prometheus",
                "description": "The Prometheus that scrapes the stream-sla workers.",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ], name
        [source] = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
        assert (source["name"], source["query"]) == ("datasource", "prometheus"), name
        assert source["current"]["value"] == "${DS_PROMETHEUS}", name
        text = (GRAFANA / "dashboards" / name).read_text()
        assert '"uid": "prometheus"' not in text, f"{name} still pins the provisioned uid"


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric, matchers) of every ``metric{...}`` selector in a query."""
    return re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}", expr)


@pytest.mark.parametrize(("uid", "title", "expr"), QUERIES, ids=QUERY_IDS)
def test_label_variables_filter_only_metrics_that_carry_the_label(
    uid: str, title: str, expr: str
) -> None:
    for metric, matchers in selectors(expr):
        used = set(re.findall(r'(\w+)=~"\$\w+"', matchers))
        missing = used - metric_labels()[metric]
        assert not missing, f"{metric} has no label {missing}: the variable would empty {expr}"


def test_label_check_knows_which_metrics_carry_which_labels() -> None:
    labels = metric_labels()
    assert labels["stream_sla_first_touch_seconds_bucket"] >= {"team", "source", "segment", "le"}
    assert "segment" not in labels["stream_sla_rule_outcomes_total"]
    assert labels["stream_sla_rep_rule_outcomes_total"] >= {"team", "rep"}
    assert labels["rule_team:stream_sla_compliance:ratio_1d"] == {"rule", "team"}
    assert selectors('sum(x_total{team=~"$team"}) / y{a="b"}') == [
        ("x_total", 'team=~"$team"'),
        ("y", 'a="b"'),
    ]


def test_panel_queries_lists_every_target_of_every_panel() -> None:
    expected = [
        (board["uid"], panel["title"], target["expr"])
        for board in sorted(committed().values(), key=lambda b: b["uid"])
        for panel in board["panels"]
        for target in panel.get("targets") or []
    ]
    assert sorted(QUERIES) == sorted(expected)
    assert len(QUERIES) >= 30


@pytest.mark.parametrize(("uid", "title", "expr"), QUERIES, ids=QUERY_IDS)
def test_query_names_only_exported_or_recorded_metrics(uid: str, title: str, expr: str) -> None:
    metrics, functions = identifiers(expr)
    assert metrics, f"{uid} / {title}: no metric in {expr}"
    assert metrics <= known_metrics(), f"unknown metrics {metrics - known_metrics()} in {expr}"
    assert functions <= FUNCTIONS, f"unknown functions {functions - FUNCTIONS} in {expr}"


@pytest.mark.parametrize(("uid", "title", "expr"), QUERIES, ids=QUERY_IDS)
def test_query_uses_variables_only_as_label_regexes_and_ranges(
    uid: str, title: str, expr: str
) -> None:
    allowed = {f"${name}" for name in LABEL_VARIABLES} | set(RANGE_VARIABLES)
    assert set(re.findall(r"\$\w+", expr)) <= allowed, expr
    assert "${" not in expr and "[[" not in expr, expr
    for name in LABEL_VARIABLES:
        assert expr.count(f"${name}") == expr.count(f'{name}=~"${name}"'), expr
    for variable in RANGE_VARIABLES:
        assert len(re.findall(re.escape(variable) + r"\b", expr)) == expr.count(f"[{variable}]"), (
            expr
        )


@pytest.mark.parametrize(("uid", "title", "expr"), QUERIES, ids=QUERY_IDS)
def test_query_is_balanced_once_variables_are_substituted(uid: str, title: str, expr: str) -> None:
    text = substitute(expr)
    assert "$" not in text, text
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    assert '"' not in unquoted.replace('""', ""), f"unterminated string in {text}"
    closing = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in unquoted:
        if char in "([{":
            stack.append(char)
        elif char in closing:
            assert stack and stack.pop() == closing[char], f"unbalanced {char} in {text}"
    assert not stack, f"unclosed {stack} in {text}"


def test_each_dashboard_declares_exactly_the_variables_its_queries_use() -> None:
    for name, board in committed().items():
        declared = {
            v["name"] for v in board.get("templating", {}).get("list", []) if v["type"] == "query"
        }
        used = {
            variable
            for panel in panels(board)
            for target in panel["targets"]
            for variable in LABEL_VARIABLES
            if f"${variable}" in target["expr"]
        }
        assert declared == used, f"{name}: declares {declared}, queries use {used}"


def test_variables_are_multi_select_label_values_with_all_as_match_anything() -> None:
    for name, board in committed().items():
        for variable in board.get("templating", {}).get("list", []):
            if variable["type"] == "datasource":
                continue
            assert variable["type"] == "query", name
            assert variable["multi"] and variable["includeAll"], (name, variable["name"])
            assert variable["allValue"] == ".*", (name, variable["name"])
            assert variable["refresh"] in (1, 2), "options must be loaded from Prometheus"
            assert variable["datasource"] == DATASOURCE
            metric = re.fullmatch(rf"label_values\((\w+), {variable['name']}\)", variable["query"])
            assert metric and metric.group(1) in known_metrics(), variable["query"]


def test_readme_names_every_panel() -> None:
    readme = (GRAFANA / "README.md").read_text(encoding="utf-8")
    missing = [
        f"{board['title']} / {panel['title']}"
        for board in committed().values()
        for panel in panels(board)
        if panel["title"] not in readme
    ]
    assert not missing, f"grafana/README.md does not list {missing}"


def test_identifiers_tell_metrics_from_functions_keywords_and_labels() -> None:
    metrics, functions = identifiers(
        'histogram_quantile(0.9, sum by (source, le) (rate(x_bucket{team=~"$team"}[5m])))'
        " / on () group_left () max(y:z:ratio offset 1d) > bool 1e3 or vector(0)"
    )
    assert metrics == {"x_bucket", "y:z:ratio"}
    assert functions == {"histogram_quantile", "sum", "rate", "max", "vector"}


def test_provisioning_serves_the_datasource_uid_and_folder_the_dashboards_use() -> None:
    provisioning = GRAFANA / "provisioning"
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert [(s["uid"], s["type"], s["url"]) for s in sources["datasources"]] == [
        ("prometheus", "prometheus", "http://prometheus:9090")
    ]
    providers = yaml.safe_load((provisioning / "dashboards" / "stream-sla.yml").read_text())
    assert [(p["type"], p["options"]["path"]) for p in providers["providers"]] == [
        ("file", "/var/lib/grafana/dashboards")
    ]
