"""Mergeable aggregates of SLA effects: what sales and marketing managers read.

Everything here is a sum or a count (a log-bucketed distribution is counts per
bucket), so the figures of two workers, or two halves of a replay, merge by
addition; averages and percentiles are derived at the end, never stored.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from stream_sla.sla.effects import (
    BreachRetracted,
    Effect,
    FirstTouchMeasured,
    MqlDelivered,
    Rule,
    RuleSettled,
    Settlement,
    Severity,
    SlaViolation,
)

_GROWTH = 1.05
"""Bucket width: each bucket is 5% wider than the last, so percentiles are within ~2.5%."""


@dataclass
class Distribution:
    """Count, sum and log buckets of non-negative values; merge by adding."""

    count: int = 0
    total: float = 0.0
    buckets: Counter[int] = field(default_factory=Counter)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.buckets[_bucket(value)] += 1

    def merge(self, other: Distribution) -> None:
        self.count += other.count
        self.total += other.total
        self.buckets.update(other.buckets)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """Upper edge of the bucket holding the q-th value (never under-states a delay)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return 0.0 if index < 0 else _GROWTH ** (index + 1)
        raise AssertionError("unreachable: ranks are within count")


def _bucket(value: float) -> int:
    return -1 if value < 1.0 else int(math.log(value, _GROWTH))


@dataclass
class RuleTally:
    met: int = 0
    stopped: int = 0
    warned: int = 0
    breached: int = 0

    @property
    def compliance(self) -> float | None:
        """Met over decided (met + breached); stopped cycles are neither."""
        decided = self.met + self.breached
        return self.met / decided if decided else None

    def merge(self, other: RuleTally) -> None:
        self.met += other.met
        self.stopped += other.stopped
        self.warned += other.warned
        self.breached += other.breached


@dataclass
class Rollup:
    """Aggregates of a stream of effects; ``timezone`` decides which day a moment belongs to."""

    timezone: str = "UTC"
    rules: dict[Rule, RuleTally] = field(default_factory=lambda: defaultdict(RuleTally))
    rules_by_month: dict[tuple[str, Rule], RuleTally] = field(
        default_factory=lambda: defaultdict(RuleTally)
    )
    first_touch_by_team: dict[str, Distribution] = field(
        default_factory=lambda: defaultdict(Distribution)
    )
    first_touch_by_rep: dict[str, Distribution] = field(
        default_factory=lambda: defaultdict(Distribution)
    )
    first_touch_by_day: dict[date, Distribution] = field(
        default_factory=lambda: defaultdict(Distribution)
    )
    attempts_unconnected_by_team: dict[str, Distribution] = field(
        default_factory=lambda: defaultdict(Distribution)
    )
    attempts_unconnected_by_rep: dict[str, Distribution] = field(
        default_factory=lambda: defaultdict(Distribution)
    )
    points_by_rep: Counter[str] = field(default_factory=Counter)
    points_by_team: Counter[str] = field(default_factory=Counter)
    mqls_by_day: Counter[date] = field(default_factory=Counter)
    mql_value_by_day: dict[date, float] = field(default_factory=lambda: defaultdict(float))
    mqls_by_source: Counter[str] = field(default_factory=Counter)
    breach_share_by_rep: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    """Breaches charged to reps by their share of the clock (a re-assigned lead splits)."""
    _charged: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, effect: Effect) -> None:
        if isinstance(effect, SlaViolation):
            tally = self._tallies(effect.rule, effect.cycle_started_at)
            for t in tally:
                if effect.severity is Severity.BREACH:
                    t.breached += 1
                else:
                    t.warned += 1
            if effect.severity is Severity.BREACH:
                self._charge(effect.id, effect.shares())
        elif isinstance(effect, RuleSettled):
            for t in self._tallies(effect.rule, effect.cycle_started_at):
                if effect.outcome is Settlement.MET:
                    t.met += 1
                else:
                    t.stopped += 1
            if effect.outcome is Settlement.MET:
                self.points_by_rep[effect.owner] += 1
                self.points_by_team[effect.team] += 1
        elif isinstance(effect, BreachRetracted):
            for t in self._tallies(effect.rule, effect.cycle_started_at):
                t.breached -= 1  # late data withdrew it (its cycle may then count as met)
            self._charge(effect.retracts, {}, withdraw=True)
        elif isinstance(effect, FirstTouchMeasured):
            self.first_touch_by_team[effect.team].add(effect.seconds)
            self.first_touch_by_rep[effect.owner].add(effect.seconds)
            self.first_touch_by_day[self.day(effect.handed_at)].add(effect.seconds)
        elif isinstance(effect, MqlDelivered):
            day = self.day(effect.created_at)
            self.mqls_by_day[day] += 1
            self.mql_value_by_day[day] += effect.weight
            self.mqls_by_source[effect.source] += 1

    def add_unconnected(self, team: str, rep: str, attempts: int) -> None:
        self.attempts_unconnected_by_team[team].add(attempts)
        self.attempts_unconnected_by_rep[rep].add(attempts)

    def day(self, epoch_ms: int) -> date:
        return datetime.fromtimestamp(epoch_ms / 1000, tz=ZoneInfo(self.timezone)).date()

    def _charge(self, breach_id: str, shares: dict[str, float], withdraw: bool = False) -> None:
        if withdraw:
            shares = {rep: -share for rep, share in self._charged.pop(breach_id, {}).items()}
        else:
            self._charged[breach_id] = shares
        for rep, share in shares.items():
            self.breach_share_by_rep[rep] += share

    def _tallies(self, rule: Rule, at: int) -> tuple[RuleTally, RuleTally]:
        month = self.day(at).strftime("%Y-%m")
        return self.rules[rule], self.rules_by_month[(month, rule)]

    def missed_months(
        self, targets: dict[Rule, float], months: int = 3, through: str | None = None
    ) -> dict[Rule, list[str]]:
        """Per rule, which of the last ``months`` months (up to ``through``, YYYY-MM, when
        given) fell short of the compliance target."""
        seen = {month for month, _ in self.rules_by_month if through is None or month <= through}
        all_months = sorted(seen)[-months:]
        missed: dict[Rule, list[str]] = {}
        for rule, target in targets.items():
            missed[rule] = [
                month
                for month in all_months
                if (c := self.rules_by_month[(month, rule)].compliance) is not None and c < target
            ]
        return missed
