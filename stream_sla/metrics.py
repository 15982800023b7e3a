"""Every Prometheus metric of the worker, declared once (names per Prometheus conventions).

Label values come from CRM data (team, rep, source, segment), so every such label goes
through a :class:`~stream_sla.labels.LabelBound` of :class:`CrmLabels`: values the policy
(or configuration) knows are kept, the others fall into a few stable hash buckets, the same
on every worker. A CRM bug that invents teams or reps cannot mint unbounded series.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    disable_created_metrics,
)

from stream_sla.gauges import OpenLeads
from stream_sla.labels import LabelBound
from stream_sla.objectives import PolicyTargets
from stream_sla.sla.policy import Policy
from stream_sla.tally import MqlTally

# `_created` series double the sample count and no dashboard or alert here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

FIRST_TOUCH_BUCKETS = (
    60.0, 300.0, 900.0, 1800.0, 2700.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259200.0,
)  # fmt: skip
"""Seconds: 1m, 5m (the '7% of leads' line), 15m, 30m, 45m, 1h (the usual target), 2h ... 3d."""

CONSUMER_LAG = (
    "stream_sla_consumer_lag",
    "gauge",
    ("topic",),
    "CRM records on the broker not yet processed by this worker, by topic.",
)


DEFAULT_LABEL_BUCKETS = 4
"""Hash buckets per CRM label for values nobody declared (``other-00`` .. ``other-03``)."""


@dataclass(frozen=True, slots=True)
class CrmLabels:
    """The bounded labels that carry CRM values. Known values: the policy's segment matches
    (source, segment, team) and marketing goals (by source, by segment), plus configured
    reps and teams (the seam a people directory can feed)."""

    team: LabelBound
    rep: LabelBound
    source: LabelBound
    segment: LabelBound

    @classmethod
    def from_policy(
        cls,
        policy: Policy,
        reps: Iterable[str] = (),
        teams: Iterable[str] = (),
        buckets: int = DEFAULT_LABEL_BUCKETS,
    ) -> CrmLabels:
        def matched(name: str) -> set[str]:
            return {
                value
                for segment in policy.segments
                for field, allowed in segment.match
                if field == name
                for value in allowed
            }

        goals = policy.marketing
        return cls(
            team=LabelBound(matched("team") | set(teams), buckets),
            rep=LabelBound(reps, buckets),
            source=LabelBound(matched("source") | {s for s, _ in goals.by_source}, buckets),
            segment=LabelBound(matched("segment") | {s for s, _ in goals.by_segment}, buckets),
        )


class Metrics:
    """One instance per worker (tests make their own registry, so they never share counters)."""

    def __init__(
        self, registry: CollectorRegistry | None = None, labels: CrmLabels | None = None
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.labels = labels or CrmLabels.from_policy(Policy())
        self.rep = self.labels.rep
        self.team = self.labels.team
        self.source = self.labels.source
        self.segment = self.labels.segment
        r = self.registry
        self.events_consumed = Counter(
            "stream_sla_events_consumed_total",
            "CRM and internal records consumed, by topic.",
            ["topic"],
            registry=r,
        )
        self.duplicate_events = Counter(
            "stream_sla_duplicate_events_total",
            "Events whose event_id was already applied (ignored).",
            ["topic"],
            registry=r,
        )
        self.lead_limits = Counter(
            "stream_sla_lead_limit_events_total",
            "Events that met a per-lead state limit, by reason: <kind>_over_limit (not kept,"
            " e.g. the 33rd attempt) or <kind>_folded (kept; older history no rule needs dropped).",
            ["reason"],
            registry=r,
        )
        self.dead_letters = Counter(
            "stream_sla_dead_letters_total",
            "Records sent to the dead-letter topic, by reason code.",
            ["reason"],
            registry=r,
        )
        self.produce_failures = Counter(
            "stream_sla_produce_failures_total",
            "Records Kafka refused (each try counts), by topic and error; the worker retries,"
            " then exits without committing the input that produced them.",
            ["topic", "error"],
            registry=r,
        )
        self.violations = Counter(
            "stream_sla_violations_total",
            "Warnings and breaches published, by severity, rule and team.",
            ["severity", "rule", "team"],
            registry=r,
        )
        self.breaches_retracted = Counter(
            "stream_sla_breaches_retracted_total",
            "Breaches withdrawn because late data showed them undeserved, by rule and reason"
            " (cycle_moved, met_late, closed_late, paused_late, segment_changed).",
            ["rule", "reason"],
            registry=r,
        )
        self.rule_outcomes = Counter(
            "stream_sla_rule_outcomes_total",
            "Rules settled per hand-off cycle: met, breached or stopped (closed before due),"
            " by the policy segment whose targets applied. Compliance = met / (met + breached).",
            ["rule", "outcome", "team", "policy_segment"],
            registry=r,
        )
        self.rep_rule_outcomes = Counter(
            "stream_sla_rep_rule_outcomes_total",
            "Rules settled per hand-off cycle by the rep who owned the lead (breaches per rep:"
            ' outcome="breached"). Reps not in known_reps: rep="other-NN".',
            ["rule", "outcome", "team", "rep"],
            registry=r,
        )
        self.rep_breach_share = Counter(
            "stream_sla_rep_breach_share_total",
            "Breaches charged to reps by their share of the rule's clock (a lead re-assigned"
            " inside its cycle splits its breach by business time held; otherwise the owner at"
            ' the deadline takes it whole). Reps not in known_reps: rep="other-NN".',
            ["rule", "team", "rep"],
            registry=r,
        )
        self.points = Counter(
            "stream_sla_points_total",
            "Leaderboard points: one per service level met, by team and rep.",
            ["team", "rep"],
            registry=r,
        )
        self.first_touch = Histogram(
            "stream_sla_first_touch_seconds",
            "Hand-off to first contact attempt (speed to lead), by team, source and segment.",
            ["team", "source", "segment"],
            buckets=FIRST_TOUCH_BUCKETS,
            registry=r,
        )
        self.rep_first_touch = Summary(
            "stream_sla_rep_first_touch_seconds",
            "Hand-off to first attempt per rep: sum and count (mean = sum / count).",
            ["team", "rep"],
            registry=r,
        )
        self.mqls = Counter(
            "stream_sla_mqls_total",
            "Leads created (MQLs delivered by marketing), by source and segment.",
            ["source", "segment"],
            registry=r,
        )
        self.mql_value = Counter(
            "stream_sla_mql_value_total",
            "MQLs weighted by persona value (e.g. CEO 100, director 50, manager 40), by source.",
            ["source"],
            registry=r,
        )
        self.open_leads = OpenLeads(self.team, self.rep)
        r.register(self.open_leads)
        self.pending_deadlines = Gauge(
            "stream_sla_pending_deadlines",
            "Warnings and breaches scheduled in this worker's deadline index.",
            registry=r,
        )
        self.state_leads = Gauge(
            "stream_sla_state_leads",
            "Leads kept in state on this worker's partitions (closed ones are evicted).",
            registry=r,
        )
        self.evicted = Counter(
            "stream_sla_evicted_leads_total",
            "Lead states dropped after their retention (closed or idle).",
            registry=r,
        )
        self.last_event_received = Gauge(
            "stream_sla_last_event_received_timestamp_seconds",
            "Wall-clock time at which the newest CRM event was processed (pipeline liveness).",
            registry=r,
        )
        self.last_event_time = Gauge(
            "stream_sla_last_event_timestamp_seconds",
            "occurred_at of the newest CRM event processed (event time).",
            registry=r,
        )


def catalog(metrics: Metrics) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(name, type, labels, meaning) of every metric a worker exports, for the README table.

    Read from the declared objects themselves (prometheus_client keeps name, type,
    labels and help on each), plus what the scrape-time collectors declare.
    """
    rows: list[tuple[str, str, tuple[str, ...], str]] = []
    for value in vars(metrics).values():
        if isinstance(value, Counter | Gauge | Histogram | Summary):
            rows.append(_declared(value))
        elif hasattr(value, "CATALOG"):
            rows.extend(value.CATALOG)
    rows.extend(MqlTally.CATALOG)  # registered by the worker next to these
    rows.extend(PolicyTargets.CATALOG)
    rows.append(CONSUMER_LAG)
    return rows


def _declared(
    metric: Counter | Gauge | Histogram | Summary,
) -> tuple[str, str, tuple[str, ...], str]:
    """(name, type, label names, help) of a declared metric. prometheus_client has no public
    read access to label names (prometheus/client_python#689, open), so this one function
    reads its private attributes; ``describe()`` would give the rest but not the labels."""
    kind: str = metric._type
    name: str = metric._name + ("_total" if kind == "counter" else "")
    return name, kind, tuple(metric._labelnames), metric._documentation


def reference_table(metrics: Metrics | None = None) -> str:
    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for name, kind, labels, meaning in catalog(metrics or Metrics()):
        rows.append(f"| `{name}` | {kind} | {', '.join(labels) or '-'} | {meaning} |")
    return "\n".join(rows)
