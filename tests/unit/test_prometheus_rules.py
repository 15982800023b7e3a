"""Recording rules and alerts are valid and behave as their unit tests say (promtool).

Hand-written alerts: each one has a firing case and a quiet case in stream-sla.test.yml, and
each case is run by promtool on its own, so a failure names the promise it broke.

Generated SLO alerts (``stream-sla slo``): for the seed policies, every alert (rule x policy
segment x severity) is run through scenarios built here from the burn-rate table of the
SRE workbook, not from the generator: a fast burn fires it, a slow burn opens only the
ticket, a healthy rule is quiet, and one breach out of three leads at night is quiet
(while the same ratio over thirty leads is not).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stream_sla import slo
from stream_sla.objectives import rule_targets
from stream_sla.policy_file import load_policy
from stream_sla.sla.policy import Policy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "prometheus"
POLICIES = ("default.yaml", "example.yaml")

BURN_TABLE = (("page", 14.4), ("page", 6.0), ("ticket", 3.0), ("ticket", 1.0))
"""(severity, burn rate) of the SRE workbook's multi-window, multi-burn-rate alerts."""
WINDOWS = {14.4: ("1h", "5m"), 6.0: ("6h", "30m"), 3.0: ("1d", "2h"), 1.0: ("3d", "6h")}
"""Long and short window of each burn rate (the workbook's table 5-8)."""


def promtool(*args: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make install` (deploy/tools.sh) installs it"
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_rules_and_prometheus_config_are_valid() -> None:
    for args in (
        ("check", "rules", "stream-sla.rules.yml", "stream-sla.slo.rules.yml"),
        ("check", "config", "prometheus.yml"),
    ):
        result = promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


# --- hand-written alerts ---------------------------------------------------------------------


def hand_written_alerts() -> list[str]:
    groups = yaml.safe_load((DEPLOY / "stream-sla.rules.yml").read_text())["groups"]
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]


def hand_written_cases() -> list[dict[str, Any]]:
    return yaml.safe_load((DEPLOY / "stream-sla.test.yml").read_text())["tests"]  # type: ignore[no-any-return]


def cases_for(alert: str, firing: bool) -> list[dict[str, Any]]:
    """Test groups in which ``alert`` is expected to fire (or to stay quiet) at some time."""
    return [
        case
        for case in hand_written_cases()
        if any(
            check["alertname"] == alert and bool(check.get("exp_alerts")) == firing
            for check in case.get("alert_rule_test", [])
        )
    ]


@pytest.mark.parametrize("firing", [True, False], ids=["fires", "stays-quiet"])
@pytest.mark.parametrize("alert", hand_written_alerts())
def test_hand_written_alert_fires_and_stays_quiet_as_its_own_cases_say(
    alert: str, firing: bool, tmp_path: Path
) -> None:
    cases = cases_for(alert, firing)
    assert cases, f"{alert} has no {'firing' if firing else 'quiet'} case in stream-sla.test.yml"
    shutil.copy(DEPLOY / "stream-sla.rules.yml", tmp_path)
    document = {
        "rule_files": ["stream-sla.rules.yml"],
        "evaluation_interval": "1m",
        "tests": cases,
    }
    (tmp_path / "case.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    result = promtool("test", "rules", "case.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_fixed_threshold_sla_alerts_are_gone() -> None:
    """Replaced by the generated burn-rate alerts (see the rules file's header)."""
    assert not {"StreamSlaBreachRateHigh", "StreamSlaFirstTouchP90AboveTarget"} & set(
        hand_written_alerts()
    )


def test_every_alert_has_a_runbook_section() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    names = set(hand_written_alerts()) | set(slo.ALERT_NAMES.values())
    for name in names:
        assert f"\n## {name}\n" in runbook, name


# --- generated SLO rules -----------------------------------------------------------------------


def test_committed_slo_rules_are_what_stream_sla_slo_makes() -> None:
    policy = load_policy(ROOT / "policies" / "default.yaml")
    source = "policies/default.yaml"
    assert (DEPLOY / "stream-sla.slo.rules.yml").read_text() == slo.rules_file(policy, source), (
        "stale: stream-sla slo --policy policies/default.yaml"
        " --output deploy/prometheus/stream-sla.slo.rules.yml"
    )
    hand_written = yaml.safe_load((DEPLOY / "stream-sla.rules.yml").read_text())["groups"]
    manifest = ROOT / "deploy" / "k8s" / "prometheusrule.yaml"
    assert manifest.read_text() == slo.prometheus_rule(policy, source, extra_groups=hand_written), (
        "stale: stream-sla slo --policy policies/default.yaml --format prometheusrule"
        " --include deploy/prometheus/stream-sla.rules.yml --output deploy/k8s/prometheusrule.yaml"
    )


@pytest.mark.parametrize(
    ("args", "committed"),
    [
        ([], "deploy/prometheus/stream-sla.slo.rules.yml"),
        (
            ["--format", "prometheusrule", "--include", "deploy/prometheus/stream-sla.rules.yml"],
            "deploy/k8s/prometheusrule.yaml",
        ),
    ],
    ids=["rules-file", "prometheusrule"],
)
def test_the_readme_commands_make_the_committed_files(args: list[str], committed: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stream_sla.cli", "slo", "--policy", "policies/default.yaml", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / committed).read_text()


def test_seed_defaults_give_one_page_and_one_ticket_alert_per_rule() -> None:
    alerts = slo.alert_rules(load_policy(ROOT / "policies" / "default.yaml"))
    assert sorted((a["labels"]["rule"], a["labels"]["severity"]) for a in alerts) == [
        ("attempts", "page"),
        ("attempts", "ticket"),
        ("disposition", "page"),
        ("disposition", "ticket"),
        ("first_touch", "page"),
        ("first_touch", "ticket"),
    ]
    # a 90% objective leaves a 10% budget: 14.4x of it is more than every lead, so the page
    # alert keeps only the 6x condition (60% of settled leads breached over 6 h and 30 min)
    page = next(a for a in alerts if a["labels"]["severity"] == "page")
    assert "ratio_rate1h" not in page["expr"] and "> 0.6" in page["expr"]
    assert "Left out: 14.4x" in page["annotations"]["description"]


def outcomes(rule: str, segment: str, met: str, breached: str) -> list[dict[str, str]]:
    labels = f'rule="{rule}", team="smb-east", policy_segment="{segment}"'
    return [
        {"series": f'stream_sla_rule_outcomes_total{{{labels}, outcome="met"}}', "values": met},
        {
            "series": f'stream_sla_rule_outcomes_total{{{labels}, outcome="breached"}}',
            "values": breached,
        },
    ]


def expected(
    alerts: dict[str, dict[str, Any]], severities: set[str], share: float | dict[str, float]
) -> list[dict[str, Any]]:
    """The alerts of ``severities`` as promtool must see them: labels, and the annotations with
    the summary's percentage being ``share`` (the share of settled leads breached)."""
    found = []
    for severity in sorted(severities):
        rule = alerts[severity]
        annotations = dict(rule["annotations"])
        value = share[severity] if isinstance(share, dict) else share
        annotations["summary"] = annotations["summary"].replace(
            "{{ $value | humanizePercentage }}", f"{value * 100:.4g}%"
        )
        found.append({"exp_labels": rule["labels"], "exp_annotations": annotations})
    return found


def steady(per_minute: float, minutes: int, after: int = 0) -> str:
    """A counter that stays 0 for ``after`` minutes, then grows by ``per_minute``."""
    quiet = f"0x{after} " if after else ""
    return f"{quiet}0+{per_minute:g}x{minutes}"


def scenarios(
    rule: str, segment: str, objective: float, alerts: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """promtool test groups for one (rule, policy segment): what must fire and what must not.

    ``alerts`` are the generated alert rules of this rule and segment by severity; which of
    them must fire is decided here from the burn table, not read from them.
    """
    budget = 1 - objective
    severities = {severity for severity, factor in BURN_TABLE if factor * budget < 1}
    assert set(alerts) == severities, "an alert is generated per reachable severity"
    alertname = next(iter(alerts.values()))["alert"]

    def case(
        name: str,
        met: str,
        breached: str,
        share: float | dict[str, float],
        checks: list[tuple[str, set[str]]],
    ) -> Any:
        return {
            "name": f"{rule}/{segment}: {name}",
            "interval": "1m",
            "input_series": outcomes(rule, segment, met, breached),
            "alert_rule_test": [
                {
                    "eval_time": at,
                    "alertname": alertname,
                    "exp_alerts": expected(alerts, firing, share),
                }
                for at, firing in checks
            ],
        }

    # 30 leads an hour (0.5 a minute) settle; the share breached decides
    def split(share: float, minutes: int) -> tuple[str, str]:
        return steady(0.5 * (1 - share), minutes), steady(0.5 * share, minutes)

    slow = min(2 * budget, 0.99)  # burns 2x: above 1x (ticket), below 3x and 6x (no page)
    # the burst's error ratio per window at 6h: 60 breached of 60 in the last hour, of 120 in
    # the last two, of 360 in six (the 1d and 3d windows hold only those six hours)
    ratios = {"5m": 1.0, "30m": 1.0, "1h": 1.0, "2h": 0.5, "6h": 1 / 6, "1d": 1 / 6, "3d": 1 / 6}
    burst: dict[str, float] = {}
    for severity, factor in BURN_TABLE:  # in the order of the alert's "or": the first one holds
        long, short = WINDOWS[factor]
        threshold = factor * budget
        if threshold < 1 and ratios[long] > threshold and ratios[short] > threshold:
            burst.setdefault(severity, ratios[long])
    return [
        case(
            "every lead breached pages and opens a ticket",
            *split(1.0, 420),
            1.0,
            [("7h", severities)],
        ),
        case(
            "a 2x burn for 7 hours opens a ticket and does not page",
            *split(slow, 420),
            slow,
            [("7h", severities & {"ticket"})],
        ),
        case(
            "half the budget spent stays quiet",
            *split(budget / 2, 420),
            budget / 2,
            [("7h", set())],
        ),
        case(
            "one breach out of three leads at night stays quiet",
            "0x180 1x60 2x180",  # two met at 03:00 and 04:00 ...
            "0x210 1x210",  # ... one breached at 03:30 (a 6.7x burn of a 95% objective)
            1 / 3,
            [("3h35m", set()), ("4h05m", set()), ("7h", set())],
        ),
        case(
            "the same one in three over thirty leads an hour is not quiet",
            *split(1 / 3, 420),
            1 / 3,
            [("7h", {s for s, f in BURN_TABLE if f * budget < 1 / 3})],
        ),
        case(
            "an hour of breaches after five good hours pages where 14.4x is reachable",
            "0+1x300 300x60",  # 60 leads an hour met for five hours ...
            "0x300 1+1x59",  # ... then an hour of 60 breached
            burst,
            [("6h", set(burst))],
        ),
    ]


def generated(policy_file: str) -> list[tuple[str, str, str, float]]:
    policy: Policy = load_policy(ROOT / "policies" / policy_file)
    return [
        (policy_file, rule.value, segment, objective)
        for rule, segment, _, objective in rule_targets(policy)
    ]


GENERATED = [row for name in POLICIES for row in generated(name)]


@pytest.mark.parametrize(
    ("policy_file", "rule", "segment", "objective"),
    GENERATED,
    ids=[f"{p}:{r}/{s}" for p, r, s, _ in GENERATED],
)
def test_generated_burn_rate_alerts_fire_on_a_burn_and_stay_quiet_on_low_volume(
    policy_file: str, rule: str, segment: str, objective: float, tmp_path: Path
) -> None:
    policy = load_policy(ROOT / "policies" / policy_file)
    alerts = {
        a["labels"]["severity"]: a
        for a in slo.alert_rules(policy)
        if a["labels"]["rule"] == rule and a["labels"]["policy_segment"] == segment
    }
    # the generated rules, less the other segments' alerts (independent; promtool is faster)
    recording, _ = slo.rule_groups(policy)
    groups = [recording, {"name": "stream-sla.slo.alerts", "rules": list(alerts.values())}]
    (tmp_path / "slo.yml").write_text(slo.dump({"groups": groups}))
    tests = scenarios(rule, segment, objective, alerts)
    (tmp_path / "slo.test.yml").write_text(
        yaml.safe_dump(
            {
                "rule_files": ["slo.yml"],
                "evaluation_interval": "5m",
                # recorded ratios first, as a real Prometheus has them (fresh) when alerts run
                "group_eval_order": ["stream-sla.slo.recording", "stream-sla.slo.alerts"],
                "tests": tests,
            },
            sort_keys=False,
        )
    )
    result = promtool("test", "rules", "slo.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


# --- retractions (issue 16): compliance counts effective breaches ----------------------------


def retraction_case(
    policy_file: str, segment: str, retracted: str | None, expected: float
) -> dict[str, Any]:
    """Per minute: 1 lead met and 2 breached of first_touch in ``segment``, and one of those
    breaches retracted as met_late (the worker counts it met too: met 1 + 1). ``retracted``
    is the retraction series' labels, None for none. Error ratio: breached / settled, less
    the retractions on both sides."""
    first_touch = f'rule="first_touch", team="t", policy_segment="{segment}"'
    met = "1+2x40" if retracted is not None else "1+1x40"
    series = [
        {"series": f'{slo.OUTCOMES}{{outcome="met", {first_touch}}}', "values": met},
        {"series": f'{slo.OUTCOMES}{{outcome="breached", {first_touch}}}', "values": "2+2x40"},
    ]
    if retracted is not None:
        series.append({"series": f"{slo.RETRACTED}{{{retracted}}}", "values": "0+1x40"})
    ratio = f'{slo.error_ratio("5m")}{{rule="first_touch", policy_segment="{segment}"}}'
    return {
        "name": f"{policy_file} {segment}: retraction {retracted}",
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": [
            {
                "expr": ratio,
                "eval_time": "30m",
                "exp_samples": [{"labels": ratio, "value": expected}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("policy_file", "segment", "retracted", "expected"),
    [
        # no retraction: 2 breached of 3 settled a minute
        ("default.yaml", "default", None, 2 / 3),
        # (2 - 1) / (2 + 2 - 1): the worker's labels (rule, reason) are enough for a rule the
        # policy applies in one segment
        ("default.yaml", "default", 'rule="first_touch", reason="met_late"', 1 / 3),
        # example.yaml applies first_touch in several segments: a retraction without a segment
        # cannot be placed, and is not (the ratio stays as if none, not blank) ...
        ("example.yaml", "enterprise", 'rule="first_touch", reason="met_late"', 2 / 4),
        # ... one labelled with its segment is subtracted there
        (
            "example.yaml",
            "enterprise",
            'rule="first_touch", reason="met_late", policy_segment="enterprise"',
            1 / 3,
        ),
    ],
    ids=["none", "one-segment", "unplaceable", "labelled"],
)
def test_a_retraction_lowers_the_slo_error_ratio(
    policy_file: str, segment: str, retracted: str | None, expected: float, tmp_path: Path
) -> None:
    policy = load_policy(ROOT / "policies" / policy_file)
    recording, _ = slo.rule_groups(policy)
    (tmp_path / "slo.yml").write_text(slo.dump({"groups": [recording]}))
    document = {
        "rule_files": ["slo.yml"],
        "evaluation_interval": "1m",
        "tests": [retraction_case(policy_file, segment, retracted, expected)],
    }
    (tmp_path / "slo.test.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    result = promtool("test", "rules", "slo.test.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize(
    ("retracted", "by_rule", "by_team"),
    [
        (None, 1 / 3, 1 / 3),  # 1 met of 3 settled a minute
        # met_late: the worker counts the retracted breach met too (met 2), then 2 / (4 - 1);
        # its labels (rule, reason) place it per rule, not per team (stays 2 / 4, not blank)
        ('rule="first_touch", reason="met_late"', 2 / 3, 2 / 4),
        ('rule="first_touch", reason="met_late", team="t"', 2 / 3, 2 / 3),
    ],
    ids=["none", "worker-labels", "with-team"],
)
def test_a_retraction_raises_the_recorded_compliance(
    retracted: str | None, by_rule: float, by_team: float, tmp_path: Path
) -> None:
    labels = 'rule="first_touch", team="t", policy_segment="default"'
    series = [
        {
            "series": f'{slo.OUTCOMES}{{outcome="met", {labels}}}',
            "values": "2+2x40" if retracted else "1+1x40",
        },
        {"series": f'{slo.OUTCOMES}{{outcome="breached", {labels}}}', "values": "2+2x40"},
    ]
    if retracted:  # every series proportional: increase() extrapolates them alike
        series.append({"series": f"{slo.RETRACTED}{{{retracted}}}", "values": "1+1x40"})
    checks = [
        ("rule:stream_sla_compliance:ratio_1d", 'rule="first_touch"', by_rule),
        ("rule_team:stream_sla_compliance:ratio_1d", 'rule="first_touch", team="t"', by_team),
        ("rule_team:stream_sla_compliance:ratio_7d", 'rule="first_touch", team="t"', by_team),
    ]
    shutil.copy(DEPLOY / "stream-sla.rules.yml", tmp_path)
    document = {
        "rule_files": ["stream-sla.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": name,
                        "eval_time": "30m",
                        "exp_samples": [{"labels": f"{name}{{{found}}}", "value": value}],
                    }
                    for name, found, value in checks
                ],
            }
        ],
    }
    (tmp_path / "case.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    result = promtool("test", "rules", "case.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
