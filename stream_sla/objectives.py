"""The policy's promises as gauges: per-rule targets, compliance objectives, business hours.

Dashboards draw their target lines from these series instead of hard-coding one hour,
so a policy with 1 h, 2 h and 4 h segments shows each segment against its own target.
``stream_sla_business_hours_open`` lets the pipeline-stall alert page only while a
policy calendar is open (a silent CRM at night or on a holiday is normal).

Read at scrape time from the policy and the clock: nothing to keep up to date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stream_sla.sla.effects import Rule
from stream_sla.sla.policy import Policy

TARGET = "stream_sla_rule_target_seconds"
OBJECTIVE = "stream_sla_compliance_objective"
OPEN = "stream_sla_business_hours_open"


def rule_targets(policy: Policy) -> list[tuple[Rule, str, float, float]]:
    """(rule, policy segment, target seconds, compliance objective) of every rule switched on.

    The attempts rule's target is its first rung's window (the one a lead meets first).
    """
    rows: list[tuple[Rule, str, float, float]] = []
    for segment in policy.segments:
        if segment.first_touch is not None:
            ft = segment.first_touch
            rows.append((Rule.FIRST_TOUCH, segment.name, ft.within_ms / 1000, ft.compliance_target))
        if segment.attempts is not None and segment.attempts.ladder:
            at = segment.attempts
            rows.append(
                (Rule.ATTEMPTS, segment.name, at.ladder[0].within_ms / 1000, at.compliance_target)
            )
        if segment.disposition is not None:
            dp = segment.disposition
            rows.append((Rule.DISPOSITION, segment.name, dp.within_ms / 1000, dp.compliance_target))
    return rows


def business_hours_open(policy: Policy, now_ms: int) -> bool:
    """Whether any named calendar of the policy (``calendars:``) is open at ``now_ms``.

    24/7 rules do not count: with them the example policy would never be closed and the
    stall alert would page every night. A policy without a named calendar is always open
    (nothing says when the CRM may be silent).
    """
    calendars = list(policy.calendars.values())
    return not calendars or any(c.open_between(now_ms, now_ms + 1) > 0 for c in calendars)


class PolicyTargets(Collector):
    CATALOG: ClassVar[tuple[tuple[str, str, tuple[str, ...], str], ...]] = (
        (
            TARGET,
            "gauge",
            ("rule", "policy_segment"),
            "The policy's target per rule and policy segment, in seconds (attempts: the first"
            " rung's window).",
        ),
        (
            OBJECTIVE,
            "gauge",
            ("rule", "policy_segment"),
            "The policy's compliance target (share of leads that must meet the rule, 0..1).",
        ),
        (
            OPEN,
            "gauge",
            (),
            "1 while any named calendar of the policy is open (no calendar: always), else 0.",
        ),
    )

    def __init__(self, policy: Policy, clock: Callable[[], int]) -> None:
        self.policy = policy
        self.clock = clock
        self._targets = rule_targets(policy)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        (
            (target_name, _, labels, target_help),
            (objective_name, _, _, objective_help),
            (
                open_name,
                _,
                _,
                open_help,
            ),
        ) = self.CATALOG
        target = GaugeMetricFamily(target_name, target_help, labels=list(labels))
        objective = GaugeMetricFamily(objective_name, objective_help, labels=list(labels))
        for rule, segment, seconds, compliance in self._targets:
            target.add_metric([rule.value, segment], seconds)
            objective.add_metric([rule.value, segment], compliance)
        yield target
        yield objective
        is_open = business_hours_open(self.policy, self.clock())
        yield GaugeMetricFamily(open_name, open_help, value=1.0 if is_open else 0.0)
