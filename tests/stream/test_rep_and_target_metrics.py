"""Metrics a manager reads: the policy's targets, and which rep is out of compliance.

The processor is driven directly (no broker) and the registry read back as Prometheus
would scrape it, so label names and values are the ones dashboards and alerts see.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from stream_sla.gauges import OpenLeads
from stream_sla.labels import LabelBound, bucket_of
from stream_sla.metrics import DEFAULT_LABEL_BUCKETS, CrmLabels, Metrics
from stream_sla.objectives import PolicyTargets, business_hours_open
from stream_sla.policy_file import load_policy
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import load_header
from stream_sla.stream.processor import LeadProcessor, Record

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_793_628_000_000  # Monday 2026-11-02T14:00:00Z, 09:00 in New York
HOUR = 3_600_000


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    text = generate_latest(registry).decode()
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def record(kind: EventKind, offset: int, **fields: object) -> tuple[EventKind, Record]:
    key = str(fields["lead_id"]).encode()
    return kind, Record(f"crm.{kind.value}", 0, offset, key, orjson.dumps(fields))


def handed(lead: str, owner: str, offset: int) -> tuple[EventKind, Record]:
    return record(
        EventKind.HANDED_TO_SALES,
        offset,
        event_id=f"{lead}-h",
        lead_id=lead,
        occurred_at="2026-11-02T14:00:00Z",
        owner=owner,
        team="smb-east",
    )


def touched(lead: str, offset: int) -> tuple[EventKind, Record]:
    return record(
        EventKind.CONTACT_ATTEMPT,
        offset,
        event_id=f"{lead}-a",
        lead_id=lead,
        occurred_at="2026-11-02T14:10:00Z",
        channel="call",
        outcome="no_answer",
    )


def test_first_touch_outcomes_breaches_and_at_risk_leads_are_counted_per_rep() -> None:
    metrics = Metrics(
        labels=CrmLabels.from_policy(Policy(), reps=["ana", "bo"], teams=["smb-east"])
    )
    clock = [T0 + 11 * 60_000]
    processor = LeadProcessor(Policy(), metrics, clock=lambda: clock[0])
    processor.apply(
        [
            handed("L-1", "ana", 0),
            touched("L-1", 1),  # ana: first touch met in 10 minutes
            handed("L-2", "bo", 2),  # bo: never touched
            handed("L-3", "cy", 3),  # not a known rep: a stable bucket
        ]
    )
    processor.fire(processor.index.pop_due(T0 + 50 * 60_000), T0 + 50 * 60_000)  # warnings
    at_risk = samples(metrics.registry, "stream_sla_rep_leads_at_risk")
    assert at_risk == {
        (("rep", "ana"), ("team", "smb-east")): 0.0,
        (("rep", "bo"), ("team", "smb-east")): 1.0,
        (("rep", bucket_of("cy", DEFAULT_LABEL_BUCKETS)), ("team", "smb-east")): 1.0,
    }
    processor.fire(processor.index.pop_due(T0 + 2 * HOUR), T0 + 2 * HOUR)  # breaches
    outcomes = samples(metrics.registry, "stream_sla_rep_rule_outcomes_total")
    first_touch = {
        (dict(k)["rep"], dict(k)["outcome"]): v
        for k, v in outcomes.items()
        if dict(k)["rule"] == "first_touch"
    }
    assert first_touch == {
        ("ana", "met"): 1.0,
        ("bo", "breached"): 1.0,
        (bucket_of("cy", DEFAULT_LABEL_BUCKETS), "breached"): 1.0,
    }
    breached = samples(metrics.registry, "stream_sla_rep_leads_breached")
    assert breached[(("rep", "bo"), ("team", "smb-east"))] == 1.0


def test_rule_outcomes_carry_the_policy_segment_whose_targets_applied() -> None:
    metrics = Metrics()
    policy = load_policy(ROOT / "policies" / "example.yaml")
    processor = LeadProcessor(policy, metrics, clock=lambda: T0 + HOUR)
    processor.apply([handed("L-1", "ana", 0), touched("L-1", 1)])
    outcomes = samples(metrics.registry, "stream_sla_rule_outcomes_total")
    labels = [dict(k) for k in outcomes]
    assert {(x["rule"], x["outcome"], x["policy_segment"]) for x in labels} == {
        ("first_touch", "met", "default")
    }


def test_targets_and_objectives_are_exported_per_rule_and_policy_segment() -> None:
    registry = CollectorRegistry()
    policy = load_policy(ROOT / "policies" / "example.yaml")
    registry.register(PolicyTargets(policy, lambda: T0))
    targets = {
        (dict(k)["rule"], dict(k)["policy_segment"]): v
        for k, v in samples(registry, "stream_sla_rule_target_seconds").items()
    }
    assert targets[("first_touch", "enterprise")] == 3600
    assert targets[("first_touch", "enterprise-follow-the-sun")] == 7200
    assert targets[("first_touch", "default")] == 4 * 3600
    assert targets[("attempts", "inbound-smb")] == 14 * 86400
    assert ("attempts", "default") not in targets  # attempts: off
    objectives = {
        (dict(k)["rule"], dict(k)["policy_segment"]): v
        for k, v in samples(registry, "stream_sla_compliance_objective").items()
    }
    assert objectives[("first_touch", "enterprise")] == 0.95
    assert objectives[("first_touch", "default")] == 0.9


def test_business_hours_follow_the_policy_calendars_in_their_own_time_zone() -> None:
    policy = load_policy(ROOT / "policies" / "example.yaml")
    assert business_hours_open(policy, T0 + 60_000)  # Monday 09:01 New York
    assert not business_hours_open(policy, T0 - 60_000)  # Monday 08:59 New York
    assert not business_hours_open(policy, T0 - 2 * 86_400_000 + 4 * HOUR)  # Saturday afternoon
    thanksgiving_noon = 1_795_712_400_000  # 2026-11-26T17:00Z, 12:00 New York
    assert not business_hours_open(policy, thanksgiving_noon)
    assert business_hours_open(Policy(), T0 - 12 * HOUR)  # no calendar: the CRM may speak anytime
    registry = CollectorRegistry()
    registry.register(PolicyTargets(policy, lambda: T0 - 60_000))
    assert samples(registry, "stream_sla_business_hours_open") == {(): 0.0}


def test_a_summary_written_before_owners_were_kept_still_loads() -> None:
    """Changelogs written by the previous release hold six-field summaries."""
    old = orjson.dumps([2, 123, ["smb-east", True, False, 0, False, False], None, [], [], [], []])
    wake, summary = load_header(old)
    assert wake == 123 and summary is not None
    assert (summary.team, summary.owner) == ("smb-east", None)
    leads = OpenLeads(rep_label=LabelBound(["ana"]))
    leads.update("L-1", 0, summary)
    assert leads.rep_totals() == {("smb-east", "unknown"): {"open": 1, "at_risk": 0, "breached": 0}}
