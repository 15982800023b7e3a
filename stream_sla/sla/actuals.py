"""The funnel from actuals: the month's own conversion rates, then next month's MQL goal.

The source documents ask for the funnel to be recalculated from actuals at least every
three months: lead-to-SQL, SQL-to-opportunity, win rate and deal size as achieved, then
the plan worked backwards again with them. CRM events carry statuses, not stages, so
the stages are read as: an SQL reached qualified (or a decided deal); an opportunity
is a decided deal (won or lost); a customer is won. When the data cannot tell a stage
apart (no lost deal at all, so opportunity and customer are the same set), the rate is
reported missing with the reason, never guessed. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stream_sla.sla import funnel
from stream_sla.sla.outcomes import LeadJourney


@dataclass(frozen=True, slots=True)
class Actual:
    name: str
    value: float | None
    numerator: float
    denominator: float
    missing: str | None = None
    """Why the data cannot give this figure (None when it can)."""


@dataclass(frozen=True, slots=True)
class FunnelActuals:
    leads: int
    sqls: int
    opportunities: int
    customers: int
    revenue: float
    lead_to_sql: Actual
    sql_to_opportunity: Actual
    win_rate: Actual
    lead_to_customer: Actual
    deal_size: Actual

    def rates(self) -> list[Actual]:
        return [
            self.lead_to_sql,
            self.sql_to_opportunity,
            self.win_rate,
            self.lead_to_customer,
            self.deal_size,
        ]


def actuals(journeys: Iterable[LeadJourney]) -> FunnelActuals:
    rows = list(journeys)
    leads = len(rows)
    sqls = sum(j.sql for j in rows)
    opportunities = sum(j.opportunity for j in rows)
    customers = sum(j.won for j in rows)
    lost = sum(j.lost for j in rows)
    amounts = [j.amount for j in rows if j.won and j.amount is not None]
    revenue = sum(amounts)
    no_lost = "no deal was lost in the data: opportunities cannot be told from customers"
    return FunnelActuals(
        leads,
        sqls,
        opportunities,
        customers,
        revenue,
        _ratio("lead-to-SQL", sqls, leads, None if sqls else "no lead reached qualified"),
        _ratio(
            "SQL-to-opportunity",
            opportunities,
            sqls,
            None if lost else no_lost,
        ),
        _ratio("win rate", customers, opportunities, None if lost else no_lost),
        _ratio("lead-to-customer", customers, leads, None if customers else "no deal was won"),
        _ratio(
            "average deal size",
            revenue,
            len(amounts),
            None if amounts else "no won deal carries an amount",
        ),
    )


def _ratio(name: str, numerator: float, denominator: float, missing: str | None) -> Actual:
    if missing is None and denominator == 0:
        missing = "nothing to divide by"
    value = numerator / denominator if missing is None else None
    return Actual(name, value, numerator, denominator, missing)


@dataclass(frozen=True, slots=True)
class NextMonth:
    plan: funnel.FunnelPlan | None
    note: str
    """How the plan was made (which rates), or why it could not be."""


def next_month_plan(
    found: FunnelActuals,
    quota: float | None,
    marketing_share: float,
    month: tuple[int, int],
) -> NextMonth:
    """``plan`` re-run with the achieved rates: all three stages, or lead-to-customer."""
    if quota is None:
        return NextMonth(None, "give --quota (the monthly sales quota) to work next month's goal")
    deal_size = found.deal_size.value
    if deal_size is None:
        return NextMonth(None, f"no deal size from actuals: {found.deal_size.missing}")
    stages = (found.win_rate, found.sql_to_opportunity, found.lead_to_sql)
    try:
        if all(s.value for s in stages):
            made = funnel.plan(
                quota,
                deal_size=deal_size,
                marketing_share=marketing_share,
                win_rate=found.win_rate.value,
                sql_to_opportunity=found.sql_to_opportunity.value,
                lead_to_sql=found.lead_to_sql.value,
                month=month,
            )
            return NextMonth(made, "from the three achieved stage rates")
        if found.lead_to_customer.value:
            missing = next(s for s in stages if not s.value)
            made = funnel.plan(
                quota,
                deal_size=deal_size,
                marketing_share=marketing_share,
                lead_to_customer=found.lead_to_customer.value,
                month=month,
            )
            reason = missing.missing or "rate 0"
            return NextMonth(
                made,
                f"from the achieved lead-to-customer rate ({missing.name} missing: {reason})",
            )
    except funnel.FunnelError as exc:
        return NextMonth(None, f"plan refused the actuals: {exc}")
    return NextMonth(None, f"no lead-to-customer rate: {found.lead_to_customer.missing}")
