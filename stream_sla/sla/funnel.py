"""Marketing's goal, worked backwards from the sales quota through the funnel.

quota x marketing share = revenue goal from marketing leads; / deal size = deals;
/ win rate = opportunities; / SQL->opportunity = SQLs; / lead->SQL = leads (MQLs).
Or, with one lead->customer rate: deals / that rate = leads.

Each stage is rounded up to whole units from the previous stage's whole count, as the
source documents do (you cannot close 1,086.96 opportunities): 500,000 / 2,000 = 250
deals; 250 / 0.23 = 1,086.96 -> 1,087 opportunities; 1,087 / 0.82 = 1,325.61 -> 1,326
SQLs; 1,326 / (1/3) = 3,978 leads, or 1,326 / 0.3333 = 3,978.40 -> 3,979 leads. The
source's "about 3,900" is that figure rounded down in prose. Every stage keeps its
unrounded figure (`Stage.exact`) next to the whole count.

Rounding up ignores float noise: 21 / 0.7 is 30.000000000000004 in binary floating
point, and needs 30 leads, not 31. Pure: no clock, no I/O.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass

DEFAULT_DAYS_IN_MONTH = 30
STAGE_RATES = ("win_rate", "sql_to_opportunity", "lead_to_sql")
_NOISE_ULPS = 4  # a rate typed in decimal and one division: about 1 ulp of error each


class FunnelError(ValueError):
    """A plan input that cannot be right; the message names it and what is valid."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One funnel stage per month: the whole count needed and the figure before rounding up.

    `exact` is the previous stage's whole count over the conversion rate (for deals: the
    revenue goal over the deal size), so `per_month == ceil(exact)` up to float noise.
    """

    name: str
    per_month: int
    exact: float


@dataclass(frozen=True, slots=True)
class FunnelPlan:
    """The monthly plan: deals first, leads last; per-day figures are per_month / days."""

    revenue_goal: float
    stages: tuple[Stage, ...]
    """deals, opportunities, SQLs, leads; or deals, leads with one lead->customer rate."""
    days_in_month: int
    working_days: int | None = None
    month: tuple[int, int] | None = None
    """(year, month) when the plan was made for a calendar month."""

    def stage(self, name: str) -> Stage | None:
        """The stage called `name`, or None (opportunities and SQLs with lead_to_customer)."""
        return next((s for s in self.stages if s.name == name), None)

    def per_day(self, stage: Stage | str) -> float:
        return self._count(stage) / self.days_in_month

    def per_working_day(self, stage: Stage | str) -> float | None:
        return self._count(stage) / self.working_days if self.working_days else None

    @property
    def deals(self) -> int:
        return self.stages[0].per_month

    @property
    def opportunities(self) -> int | None:
        found = self.stage("opportunities")
        return found.per_month if found else None

    @property
    def sqls(self) -> int | None:
        found = self.stage("SQLs")
        return found.per_month if found else None

    @property
    def leads(self) -> int:
        return self.stages[-1].per_month

    def _count(self, stage: Stage | str) -> int:
        if isinstance(stage, Stage):
            return stage.per_month
        found = self.stage(stage)
        if found is None:
            names = ", ".join(s.name for s in self.stages)
            raise FunnelError(f"stage: {stage!r} is not in this plan ({names})")
        return found.per_month


def plan(
    quota: float,
    deal_size: float,
    marketing_share: float = 1.0,
    win_rate: float | None = None,
    sql_to_opportunity: float | None = None,
    lead_to_sql: float | None = None,
    lead_to_customer: float | None = None,
    days_in_month: int | None = None,
    working_days: int | None = None,
    *,
    month: tuple[int, int] | None = None,
) -> FunnelPlan:
    """The monthly funnel; give the three stage rates, or one lead->customer rate.

    Days in the month: `days_in_month`, or the real count for `month=(year, month)`,
    or 30. `working_days` adds a per-working-day figure.
    """
    _amount("quota", quota)
    _amount("deal_size", deal_size)
    _rate("marketing_share", marketing_share)
    steps = _steps(win_rate, sql_to_opportunity, lead_to_sql, lead_to_customer)
    days = _days(days_in_month, month)
    if working_days is not None and not 1 <= working_days <= days:
        raise FunnelError(f"working_days: {working_days} is not 1 to {days} (days in the month)")
    revenue = quota * marketing_share
    stages = [_stage("deals", revenue / deal_size)]
    for name, rate in steps:
        stages.append(_stage(name, stages[-1].per_month / rate))
    return FunnelPlan(revenue, tuple(stages), days, working_days, month)


def days_in(year: int, month: int) -> int:
    """Days in a calendar month (November 2026 -> 30, February 2028 -> 29)."""
    if not 1 <= month <= 12:
        raise FunnelError(f"month: {month} is not 1 to 12")
    if not 1 <= year <= 9999:
        raise FunnelError(f"year: {year} is not 1 to 9999")
    return calendar.monthrange(year, month)[1]


def goal_to_date(monthly_goal: float, day_of_month: int, days_in_month: int) -> float:
    """The cumulative goal line of the daily "waterfall" chart: g x day / n (g / n per day).

    Day 0 is the start of the month (0), day n its end (g).
    """
    if days_in_month < 1:
        raise FunnelError(f"days_in_month: {days_in_month} must be 1 or more")
    if not 0 <= day_of_month <= days_in_month:
        raise FunnelError(f"day_of_month: {day_of_month} is not 0 to {days_in_month}")
    return monthly_goal * day_of_month / days_in_month


def pacing(actual: float, goal_to_date: float) -> float:
    """Actual over goal-to-date: 1.0 on track, 0.923 is 7.7% behind (+-10% a month is normal).

    With no goal yet (goal_to_date <= 0): 1.0 if nothing was delivered either, else inf.
    """
    if goal_to_date <= 0:
        return 1.0 if actual <= 0 else math.inf
    return actual / goal_to_date


def render(result: FunnelPlan) -> str:
    """A small aligned table for the CLI, leads first (the top of the funnel)."""
    header = f"revenue goal from marketing: {result.revenue_goal:,.0f}"
    when = f"{calendar.month_name[result.month[1]]} {result.month[0]}, " if result.month else ""
    header += f" ({when}{result.days_in_month} days"
    header += f", {result.working_days} working)" if result.working_days else ")"
    columns = f"{'stage':<14} {'per month':>10} {'per day':>9}"
    lines = [header, columns + (f" {'per work day':>13}" if result.working_days else "")]
    for stage in reversed(result.stages):
        row = f"{stage.name:<14} {stage.per_month:>10,} {result.per_day(stage):>9,.1f}"
        per_working_day = result.per_working_day(stage)
        if per_working_day is not None:
            row += f" {per_working_day:>13,.1f}"
        lines.append(row)
    return "\n".join(lines)


def as_dict(result: FunnelPlan) -> dict[str, object]:
    """The plan for JSON output; `exact` is each stage's figure before rounding up."""
    stages: dict[str, object] = {}
    for s in result.stages:
        row: dict[str, object] = {
            "per_month": s.per_month,
            "per_day": round(result.per_day(s), 2),
            "exact": round(s.exact, 4),
        }
        per_working_day = result.per_working_day(s)
        if per_working_day is not None:
            row["per_working_day"] = round(per_working_day, 2)
        stages[s.name] = row
    return {
        "revenue_goal": result.revenue_goal,
        "days_in_month": result.days_in_month,
        "working_days": result.working_days,
        "month": f"{result.month[0]:04d}-{result.month[1]:02d}" if result.month else None,
        "stages": stages,
    }


def _steps(
    win_rate: float | None,
    sql_to_opportunity: float | None,
    lead_to_sql: float | None,
    lead_to_customer: float | None,
) -> list[tuple[str, float]]:
    stage_rates = (win_rate, sql_to_opportunity, lead_to_sql)
    given = [n for n, r in zip(STAGE_RATES, stage_rates, strict=True) if r is not None]
    if lead_to_customer is not None:
        if given:
            raise FunnelError(
                f"lead_to_customer: give it or the three stage rates ({', '.join(STAGE_RATES)}),"
                f" not both (got {', '.join(given)} too)"
            )
        return [("leads", _rate("lead_to_customer", lead_to_customer))]
    if win_rate is None or sql_to_opportunity is None or lead_to_sql is None:
        missing = [n for n in STAGE_RATES if n not in given]
        raise FunnelError(f"{', '.join(missing)}: missing (give the three, or lead_to_customer)")
    return [
        ("opportunities", _rate("win_rate", win_rate)),
        ("SQLs", _rate("sql_to_opportunity", sql_to_opportunity)),
        ("leads", _rate("lead_to_sql", lead_to_sql)),
    ]


def _days(days_in_month: int | None, month: tuple[int, int] | None) -> int:
    if month is not None:
        if days_in_month is not None:
            raise FunnelError(f"days_in_month: {days_in_month} given with month, give one")
        return days_in(*month)
    if days_in_month is None:
        return DEFAULT_DAYS_IN_MONTH
    if not 28 <= days_in_month <= 31:
        raise FunnelError(f"days_in_month: {days_in_month} is not 28 to 31")
    return days_in_month


def _stage(name: str, exact: float) -> Stage:
    if not math.isfinite(exact):
        raise FunnelError(f"{name}: {exact} needed; the amounts and rates are out of range")
    return Stage(name, _round_up(exact), exact)


def _round_up(value: float) -> int:
    """math.ceil, except that a value within float noise of a whole number is that number."""
    nearest = round(value)
    if abs(value - nearest) <= _NOISE_ULPS * math.ulp(value):
        return nearest
    return math.ceil(value)


def _amount(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise FunnelError(f"{name}: {value} is not an amount more than 0")


def _rate(name: str, value: float) -> float:
    if not 0 < value <= 1:
        raise FunnelError(f"{name}: {value} is not a rate in (0, 1] (write 23% as 0.23)")
    return value
