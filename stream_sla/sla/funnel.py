"""Marketing's goal, worked backwards from the sales quota through the funnel.

quota x marketing share = revenue from marketing leads; / deal size = deals;
/ win rate = opportunities; / SQL->opportunity = SQLs; / lead->SQL = leads (MQLs).
Each stage is rounded up to whole units, as the source documents do: you cannot
close 1,086.96 opportunities. The unrounded figures are kept too.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass


class FunnelError(ValueError):
    """A plan input that cannot be right; the message names it and what is valid."""


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    per_month: int
    exact: float


@dataclass(frozen=True, slots=True)
class FunnelPlan:
    revenue_goal: float
    stages: tuple[Stage, ...]
    """Deals, opportunities, SQLs, leads - or deals and leads with one lead->customer rate."""
    days_in_month: int
    working_days: int | None = None

    def per_day(self, stage: Stage) -> float:
        return stage.per_month / self.days_in_month

    def per_working_day(self, stage: Stage) -> float | None:
        return stage.per_month / self.working_days if self.working_days else None

    @property
    def leads(self) -> int:
        return self.stages[-1].per_month


def plan(
    quota: float,
    deal_size: float,
    marketing_share: float = 1.0,
    win_rate: float | None = None,
    sql_to_opportunity: float | None = None,
    lead_to_sql: float | None = None,
    lead_to_customer: float | None = None,
    days_in_month: int = 30,
    working_days: int | None = None,
) -> FunnelPlan:
    """The monthly funnel; give the three stage rates, or one lead->customer rate."""
    _positive("quota", quota)
    _positive("deal_size", deal_size)
    _rate("marketing_share", marketing_share)
    stage_rates = (win_rate, sql_to_opportunity, lead_to_sql)
    if lead_to_customer is not None:
        if any(r is not None for r in stage_rates):
            raise FunnelError(
                "give either lead_to_customer or the three stage rates"
                " (win_rate, sql_to_opportunity, lead_to_sql), not both"
            )
        steps = [("leads", _rate("lead_to_customer", lead_to_customer))]
    else:
        names = ("win_rate", "sql_to_opportunity", "lead_to_sql")
        missing = [n for n, r in zip(names, stage_rates, strict=True) if r is None]
        if missing:
            raise FunnelError(f"{', '.join(missing)}: missing (or give lead_to_customer)")
        steps = [
            ("opportunities", _rate("win_rate", win_rate)),
            ("SQLs", _rate("sql_to_opportunity", sql_to_opportunity)),
            ("leads", _rate("lead_to_sql", lead_to_sql)),
        ]
    if days_in_month < 28 or days_in_month > 31:
        raise FunnelError(f"days_in_month: {days_in_month} is not 28 to 31")
    revenue = quota * marketing_share
    exact = revenue / deal_size
    stages = [Stage("deals", math.ceil(_tidy(exact)), exact)]
    for name, rate in steps:
        exact = stages[-1].per_month / rate
        stages.append(Stage(name, math.ceil(_tidy(exact)), exact))
    return FunnelPlan(revenue, tuple(stages), days_in_month, working_days)


def days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def goal_to_date(monthly_goal: float, day_of_month: int, days_in_month: int) -> float:
    """The cumulative goal line of the daily "waterfall" chart: g / n per day."""
    return monthly_goal * day_of_month / days_in_month


def pacing(actual: float, goal_so_far: float) -> float:
    """Actual over goal-to-date (1.0 on track; about +-10% in a month is normal)."""
    if goal_so_far <= 0:
        return 1.0 if actual <= 0 else math.inf
    return actual / goal_so_far


def render(result: FunnelPlan) -> str:
    lines = [
        f"revenue goal from marketing: {result.revenue_goal:,.0f}",
        f"{'stage':<14} {'per month':>10} {'per day':>9}"
        + (f" {'per work day':>13}" if result.working_days else ""),
    ]
    for stage in reversed(result.stages):
        row = f"{stage.name:<14} {stage.per_month:>10,} {result.per_day(stage):>9,.1f}"
        per_working_day = result.per_working_day(stage)
        if per_working_day is not None:
            row += f" {per_working_day:>13,.1f}"
        lines.append(row)
    return "\n".join(lines)


def as_dict(result: FunnelPlan) -> dict[str, object]:
    return {
        "revenue_goal": result.revenue_goal,
        "days_in_month": result.days_in_month,
        "stages": {
            s.name: {
                "per_month": s.per_month,
                "per_day": round(result.per_day(s), 2),
                "exact": round(s.exact, 4),
            }
            for s in result.stages
        },
    }


def _tidy(value: float) -> float:
    """Drop float noise (1326 / (1/3) = 3978.0000000000005) before rounding up."""
    return round(value, 9)


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise FunnelError(f"{name}: {value} must be more than 0")
    return value


def _rate(name: str, value: float | None) -> float:
    if value is None or not 0 < value <= 1:
        raise FunnelError(f"{name}: {value} is not a rate in (0, 1] (write 23% as 0.23)")
    return value
