"""SLOs from the policy: recording rules and multi-window, multi-burn-rate alerts.

The SLA is a compliance percentage per rule ("90% of leads touched within the hour"),
which is an SLO with an error budget of ``1 - compliance_target``. As in the SRE
workbook (chapter 5, "Alerting on SLOs") and the tools built on it (Sloth, Pyrra),
an alert fires when the budget burns fast over a long window *and* a short one (the
short one makes it stop soon after the burn stops):

======== ========== ============ ============ ========================================
severity burn rate  long window  short window budget spent of 28 days when it fires
======== ========== ============ ============ ========================================
page     14.4x      1 h          5 min        2%
page     6x         6 h          30 min       5%
ticket   3x         1 d          2 h          10%
ticket   1x         3 d          6 h          10%
======== ========== ============ ============ ========================================

Low volume: leads arrive in business hours, tens a day per team, and one breach out of
three leads at night is a 33% error ratio, a 6.7x burn of a 95% objective. So every
condition also needs ``min_outcomes`` settled rules (met or breached) in its long window
(10 by default): three leads at night cannot page or open a ticket; the same ratio over
enough leads does. Individual breaches still reach the rep through ``sla.breaches``.

A burn rate the objective makes impossible (14.4x of a 90% objective is a 144% error
ratio) is left out of the alert, and said so in its description; an alert with no
reachable condition is not generated.

Retractions (issue 16): a breach that late data withdrew stays in ``{outcome="breached"}``
(a counter only grows; a ``met_late`` one is counted met too), so every window subtracts
``stream_sla_breaches_retracted_total`` from the breached and the settled counts (recorded
per window as ``..._breaches_retracted:rate<window>``, 0 where none): the ratio counts
effective breaches. The worker labels retractions by ``rule`` and ``reason`` only, so
the subtraction is exact per (rule, policy segment) for a rule the policy applies in one
segment (its retractions are given that segment's label); for a rule of several segments it
takes retractions that carry ``policy_segment`` (none until the worker adds that label) and
subtracts nothing otherwise rather than guess. The recorded retractions hold a 0 for every
(rule, policy segment) with outcomes, so a missing retraction series never blanks a ratio.

The recording rules are shared by every rule and policy segment (one per window, summed
``by (rule, policy_segment)``); the alerts are one per rule, policy segment and severity,
with the policy's objective written into the threshold (they do not depend on the
worker exporting it). ``stream-sla slo`` writes them as a Prometheus rules file and as a
PrometheusRule manifest for the Prometheus Operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from stream_sla.objectives import rule_targets
from stream_sla.sla.effects import Rule
from stream_sla.sla.policy import Policy

OUTCOMES = "stream_sla_rule_outcomes_total"
RETRACTED = "stream_sla_breaches_retracted_total"
OBJECTIVE_METRIC = "stream_sla_compliance_objective"
PREFIX = "policy_segment_rule:stream_sla"
SLO_WINDOW = "28d"
"""The objective's window: four whole weeks, so every window has the same weekdays."""
DEFAULT_MIN_OUTCOMES = 10
RUNBOOK = "https://github.com/stream-sla/stream-sla/blob/main/docs/runbook.md"


@dataclass(frozen=True, slots=True)
class Burn:
    severity: str
    factor: float
    long: str
    short: str


BURNS = (
    Burn("page", 14.4, "1h", "5m"),
    Burn("page", 6, "6h", "30m"),
    Burn("ticket", 3, "1d", "2h"),
    Burn("ticket", 1, "3d", "6h"),
)
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
LONG_WINDOWS = tuple(dict.fromkeys(b.long for b in BURNS))

ALERT_NAMES = {
    Rule.FIRST_TOUCH: "StreamSlaFirstTouchBudgetBurn",
    Rule.ATTEMPTS: "StreamSlaAttemptsBudgetBurn",
    Rule.DISPOSITION: "StreamSlaDispositionBudgetBurn",
}


def error_ratio(window: str) -> str:
    return f"{PREFIX}_rule_errors:ratio_rate{window}"


def outcome_count(window: str) -> str:
    return f"{PREFIX}_rule_outcomes:increase{window}"


def _number(value: float) -> str:
    """A threshold as written in PromQL: short, and without float noise (1 - 0.95)."""
    return f"{round(value, 10):g}"


def retracted_rate(window: str) -> str:
    return f"{PREFIX}_breaches_retracted:rate{window}"


def _retracted(window: str, policy: Policy, settled: str) -> str:
    """Retractions per second by (rule, policy_segment) over ``window``, as far as the labels
    tell (those labelled with a segment; a one-segment rule's unlabelled ones), and 0 for
    every other (rule, policy_segment) with outcomes, so the subtraction always matches."""
    by = "sum by (rule, policy_segment)"
    parts = [f'{by} (rate({RETRACTED}{{policy_segment!=""}}[{window}]))']
    segments: dict[Rule, list[str]] = {}
    for rule, segment, _, _ in rule_targets(policy):
        segments.setdefault(rule, []).append(segment)
    alone: dict[str, list[str]] = {}
    for rule, names in segments.items():
        if len(names) == 1:
            alone.setdefault(names[0], []).append(rule.value)
    for segment, rules in alone.items():
        unlabelled = f'{RETRACTED}{{rule=~"{"|".join(rules)}", policy_segment=""}}'
        parts.append(
            f"label_replace(sum by (rule) (rate({unlabelled}[{window}])),"
            f' "policy_segment", "{segment}", "", "")'
        )
    parts.append(f"0 * {by} (rate({settled}[{window}]))")
    return "\nor ".join(parts) + "\n"


def recording_rules(policy: Policy) -> list[dict[str, Any]]:
    by = "sum by (rule, policy_segment)"
    settled = f'{OUTCOMES}{{outcome=~"met|breached"}}'
    breached = f'{OUTCOMES}{{outcome="breached"}}'
    less = "- on (rule, policy_segment)"
    rules: list[dict[str, Any]] = []
    for window in (*WINDOWS, SLO_WINDOW):
        retracted = retracted_rate(window)
        rules.append({"record": retracted, "expr": _retracted(window, policy, settled)})
        total = f"({by} (rate({settled}[{window}])) {less} {retracted})"
        errors = f"({by} (rate({breached}[{window}])) {less} {retracted})"
        # "or 0 * total": a rule with outcomes but no breach yet has an error ratio of 0, not none
        rules.append(
            {
                "record": error_ratio(window),
                "expr": f"({errors}\n or 0 * {total})\n/ {total}\n",
            }
        )
    for window in LONG_WINDOWS:
        rules.append(
            {"record": outcome_count(window), "expr": f"{by} (increase({settled}[{window}]))"}
        )
    rules.append(
        {
            "record": f"{PREFIX}_compliance:ratio_{SLO_WINDOW}",
            "expr": f"1 - {error_ratio(SLO_WINDOW)}",
        }
    )
    rules.append(
        {
            "record": f"{PREFIX}_error_budget:remaining_{SLO_WINDOW}",
            "expr": f"1 - {error_ratio(SLO_WINDOW)}\n/ on (rule, policy_segment)"
            f" (1 - max by (rule, policy_segment) ({OBJECTIVE_METRIC}))\n",
        }
    )
    return rules


def alert_rules(policy: Policy, min_outcomes: int = DEFAULT_MIN_OUTCOMES) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = []
    for rule, segment, _, objective in rule_targets(policy):
        budget = 1 - objective
        selector = f'{{rule="{rule.value}", policy_segment="{segment}"}}'
        for severity in ("page", "ticket"):
            burns = [b for b in BURNS if b.severity == severity]
            reachable = [b for b in burns if b.factor * budget < 1]
            if not reachable:
                continue
            conditions = [
                f"(\n  {error_ratio(b.long)}{selector} > {_number(b.factor * budget)}\n"
                f"  and {error_ratio(b.short)}{selector} > {_number(b.factor * budget)}\n"
                f"  and {outcome_count(b.long)}{selector} >= {min_outcomes}\n)"
                for b in reachable
            ]
            windows = " or ".join(
                f"{_number(b.factor)}x over {b.long} and {b.short}" for b in burns
            )
            left_out = [b for b in burns if b not in reachable]
            note = (
                " Left out: "
                + ", ".join(f"{_number(b.factor)}x" for b in left_out)
                + f" (more than 100% of leads breached at a {_number(objective * 100)}% objective)."
                if left_out
                else ""
            )
            alerts.append(
                {
                    "alert": ALERT_NAMES[rule],
                    "expr": "\nor\n".join(conditions) + "\n",
                    "labels": {
                        "severity": severity,
                        "rule": rule.value,
                        "policy_segment": segment,
                    },
                    "annotations": {
                        "summary": f"{rule.value} in policy segment {segment}: "
                        "{{ $value | humanizePercentage }} of settled leads breached"
                        f" (budget {_number(budget * 100)}%)",
                        "description": (
                            f"The {rule.value} rule of policy segment {segment} burns its"
                            f" {SLO_WINDOW} error budget ({_number(budget * 100)}% of leads may"
                            f" breach) at {windows}, with at least {min_outcomes} settled leads"
                            f" in the long window.{note}"
                        ),
                        "runbook_url": f"{RUNBOOK}#{ALERT_NAMES[rule].lower()}",
                    },
                }
            )
    return alerts


def rule_groups(policy: Policy, min_outcomes: int = DEFAULT_MIN_OUTCOMES) -> list[dict[str, Any]]:
    return [
        {"name": "stream-sla.slo.recording", "rules": recording_rules(policy)},
        {"name": "stream-sla.slo.alerts", "rules": alert_rules(policy, min_outcomes)},
    ]


def _header(policy: Policy, source: str, min_outcomes: int) -> str:
    return (
        "# Generated by `stream-sla slo` from "
        f"{source} (version {policy.version}, min outcomes {min_outcomes}): do not edit.\n"
        "# Multi-window, multi-burn-rate alerts per rule and policy segment (see stream_sla/slo.py"
        " and docs/runbook.md).\n"
    )


class _Dumper(yaml.SafeDumper):
    pass


def _block_strings(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _block_strings)


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


def rules_file(
    policy: Policy, source: str = "the built-in policy", min_outcomes: int = DEFAULT_MIN_OUTCOMES
) -> str:
    """The Prometheus rules file (``rule_files:``)."""
    return _header(policy, source, min_outcomes) + dump(
        {"groups": rule_groups(policy, min_outcomes)}
    )


def prometheus_rule(
    policy: Policy,
    source: str = "the built-in policy",
    min_outcomes: int = DEFAULT_MIN_OUTCOMES,
    extra_groups: list[dict[str, Any]] | None = None,
    name: str = "stream-sla",
) -> str:
    """A PrometheusRule (monitoring.coreos.com/v1) with ``extra_groups`` (the hand-written
    rules) before the generated ones, for a Prometheus Operator."""
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "stream-sla"}},
        "spec": {"groups": [*(extra_groups or []), *rule_groups(policy, min_outcomes)]},
    }
    return _header(policy, source, min_outcomes) + dump(manifest)
