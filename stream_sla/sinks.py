"""Where the engine's effects go: one sink per consumer, chosen by the effect's type.

The engine (:mod:`stream_sla.sla.engine`) decides; a sink records. The worker feeds the
Prometheus sink, the status page's sink and its outbox (what is published); a replay feeds
the report's :class:`~stream_sla.sla.rollups.Rollup`. A new effect type is one method per
sink that cares, and a sink that does not care leaves it out of its table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from stream_sla.metrics import Metrics
from stream_sla.sla.effects import (
    BreachRetracted,
    Effect,
    FirstTouchMeasured,
    MqlDelivered,
    RuleSettled,
    Settlement,
    Severity,
    SlaViolation,
)
from stream_sla.sla.engine import Outcome
from stream_sla.sla.lead import LeadSummary


class EffectSink(Protocol):
    def take(self, effect: Effect) -> None: ...


class TypedSink:
    """A sink with one handler per effect type (types it has no handler for are ignored)."""

    handlers: dict[type, Callable[[Any], None]]

    def take(self, effect: Effect) -> None:
        handler = self.handlers.get(type(effect))
        if handler is not None:
            handler(effect)


class PrometheusSink(TypedSink):
    """Counters and histograms per effect; gauges and batch figures per outcome."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.handlers = {
            SlaViolation: self._violation,
            BreachRetracted: self._retracted,
            FirstTouchMeasured: self._first_touch,
            RuleSettled: self._settled,
            MqlDelivered: self._mql,
        }

    def outcome(self, outcome: Outcome[Any], pending: int, leads: int) -> None:
        """Everything of an outcome but its effects (those go through :meth:`take`)."""
        m = self.metrics
        for _, rejected in outcome.dead_letters:
            m.dead_letters.labels(rejected.reason.value).inc()
        for topic, count in outcome.consumed.items():
            m.events_consumed.labels(topic).inc(count)
        for topic, count in outcome.duplicates.items():
            m.duplicate_events.labels(topic).inc(count)
        for reason, count in outcome.limited.items():
            m.lead_limits.labels(reason).inc(count)
        if outcome.evicted:
            m.evicted.inc(len(outcome.evicted))
        if outcome.newest_event_at:
            m.last_event_time.set(outcome.newest_event_at / 1000)
            m.last_event_received.set(time.time())
        self.gauges(outcome.gauges)
        m.pending_deadlines.set(pending)
        m.state_leads.set(leads)

    def gauges(self, updates: Iterable[tuple[str, int, LeadSummary | None]]) -> None:
        self.metrics.open_leads.update_many(updates)

    def _child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, looked up once: ``labels()`` validates and locks on every
        call, and it ran for each effect (3.4% of the worker's profile). Label values are
        bounded (:mod:`stream_sla.labels`) and no child is ever removed, so the cache is too."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def _violation(self, effect: SlaViolation) -> None:
        m = self.metrics
        team = m.team(effect.team)
        self._child(m.violations, effect.severity.value, effect.rule.value, team).inc()
        if effect.severity is Severity.BREACH:
            rule = effect.rule.value
            self._child(m.rule_outcomes, rule, "breached", team, effect.policy_segment).inc()
            self._child(m.rep_rule_outcomes, rule, "breached", team, m.rep(effect.owner)).inc()
            for rep, share in effect.shares().items():
                self._child(m.rep_breach_share, rule, team, m.rep(rep)).inc(share)

    def _retracted(self, effect: BreachRetracted) -> None:
        self._child(self.metrics.breaches_retracted, effect.rule.value, effect.reason.value).inc()

    def _first_touch(self, effect: FirstTouchMeasured) -> None:
        m = self.metrics
        team = m.team(effect.team)
        self._child(
            m.first_touch, team, m.source(effect.source), m.segment(effect.segment)
        ).observe(effect.seconds)
        self._child(m.rep_first_touch, team, m.rep(effect.owner)).observe(effect.seconds)

    def _settled(self, effect: RuleSettled) -> None:
        m = self.metrics
        team = m.team(effect.team)
        rule, outcome, rep = effect.rule.value, effect.outcome.value, m.rep(effect.owner)
        self._child(m.rule_outcomes, rule, outcome, team, effect.policy_segment).inc()
        self._child(m.rep_rule_outcomes, rule, outcome, team, rep).inc()
        if effect.outcome is Settlement.MET:
            self._child(m.points, team, rep).inc()

    def _mql(self, effect: MqlDelivered) -> None:
        m = self.metrics
        source = m.source(effect.source)
        self._child(m.mqls, source, m.segment(effect.segment)).inc()
        self._child(m.mql_value, source).inc(effect.weight)
