"""Marketing's MQL goal worked back from the quota (the worked example of the source documents)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_sla.sla.funnel import (
    FunnelError,
    FunnelPlan,
    as_dict,
    days_in,
    goal_to_date,
    pacing,
    plan,
    render,
)

rates = st.floats(min_value=0.01, max_value=1.0)
amounts = st.floats(min_value=1.0, max_value=1e7)


def worked_example(lead_to_sql: float = 1 / 3, **options: Any) -> FunnelPlan:
    """$500,000 quota, all from marketing, $2,000 deals, 23% win rate, 82% SQL->opportunity."""
    return plan(500_000, 2_000, 1.0, 0.23, 0.82, lead_to_sql, **options)


@pytest.mark.parametrize(
    ("lead_to_sql", "leads", "leads_exact"),
    [(1 / 3, 3_978, 3_978.0), (0.3333, 3_979, 3_978.3978)],
    ids=["one-lead-in-three", "typed-as-0.3333"],
)
def test_worked_example_500k_quota_2k_deals_needs_about_3900_mqls(
    lead_to_sql: float, leads: int, leads_exact: float
) -> None:
    # The source's "about 3,900" is 3,978 (or 3,979) rounded down in prose.
    result = worked_example(lead_to_sql)
    assert result.revenue_goal == 500_000
    assert [(s.name, s.per_month) for s in result.stages] == [
        ("deals", 250),
        ("opportunities", 1_087),
        ("SQLs", 1_326),
        ("leads", leads),
    ]
    assert (result.deals, result.opportunities, result.sqls, result.leads) == (
        250,
        1_087,
        1_326,
        leads,
    )
    assert [s.exact for s in result.stages] == pytest.approx(
        [250.0, 1_086.9565, 1_325.6098, leads_exact], abs=1e-4
    )


@pytest.mark.parametrize(
    ("days", "leads_per_day", "deals_per_day"),
    [
        ({}, 132.6, 8.333),
        ({"month": (2026, 11)}, 132.6, 8.333),
        ({"month": (2028, 2)}, 137.172, 8.621),
        ({"days_in_month": 31}, 128.323, 8.065),
    ],
    ids=["default-30-days", "november-2026", "february-2028-leap", "31-days-given"],
)
def test_per_day_divides_the_month_by_its_days(
    days: dict[str, Any], leads_per_day: float, deals_per_day: float
) -> None:
    result = worked_example(**days)
    assert result.per_day("leads") == pytest.approx(leads_per_day, abs=1e-3)
    assert result.per_day(result.stages[0]) == pytest.approx(deals_per_day, abs=1e-3)
    assert result.per_working_day("leads") is None


def test_working_days_add_a_per_working_day_figure() -> None:
    result = worked_example(working_days=21, month=(2026, 11))
    assert result.per_working_day("leads") == pytest.approx(189.43, abs=0.01)
    assert as_dict(result)["working_days"] == 21
    assert "per work day" in render(result)


def test_one_lead_to_customer_rate_skips_the_middle_stages() -> None:
    result = plan(500_000, 2_000, lead_to_customer=0.0625)
    assert [(s.name, s.per_month) for s in result.stages] == [("deals", 250), ("leads", 4_000)]
    assert (result.opportunities, result.sqls) == (None, None)


def test_half_the_revenue_from_marketing_halves_the_funnel() -> None:
    result = plan(500_000, 2_000, 0.5, win_rate=0.25, sql_to_opportunity=0.5, lead_to_sql=0.5)
    assert result.revenue_goal == 250_000
    assert [s.per_month for s in result.stages] == [125, 500, 1_000, 2_000]


def test_rounding_up_ignores_float_noise() -> None:
    assert 21 / 0.7 == 30.000000000000004
    assert plan(21_000, 1_000, lead_to_customer=0.7).leads == 30


def test_a_fraction_of_a_deal_is_a_whole_deal() -> None:
    assert plan(500_001, 2_000, lead_to_customer=0.5).deals == 251


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"win_rate": 1.3}, r"win_rate: 1.3 is not a rate in \(0, 1\]"),
        ({"sql_to_opportunity": 0.0}, r"sql_to_opportunity: 0.0 is not a rate in \(0, 1\]"),
        ({"lead_to_sql": -0.3}, r"lead_to_sql: -0.3 is not a rate"),
        ({"lead_to_sql": math.nan}, r"lead_to_sql: nan is not a rate"),
        ({"marketing_share": 0.0}, r"marketing_share: 0.0 is not a rate in \(0, 1\]"),
        ({"marketing_share": 1.5}, r"marketing_share: 1.5 is not a rate"),
        ({"quota": 0.0}, r"quota: 0.0 is not an amount more than 0"),
        ({"quota": math.inf}, r"quota: inf is not an amount more than 0"),
        ({"deal_size": -2_000.0}, r"deal_size: -2000.0 is not an amount more than 0"),
        ({"lead_to_sql": None}, r"^lead_to_sql: missing \(give the three, or lead_to_customer\)"),
        ({"lead_to_customer": 0.05}, r"lead_to_customer: give it or the three stage rates"),
        ({"days_in_month": 32}, r"days_in_month: 32 is not 28 to 31"),
        ({"days_in_month": 30, "month": (2026, 11)}, r"days_in_month: 30 given with month"),
        ({"month": (2026, 13)}, r"month: 13 is not 1 to 12"),
        ({"working_days": 31}, r"working_days: 31 is not 1 to 30"),
        ({"working_days": 0}, r"working_days: 0 is not 1 to 30"),
    ],
    ids=[
        "win-rate-above-one",
        "zero-rate",
        "negative-rate",
        "nan-rate",
        "no-marketing-share",
        "marketing-share-above-one",
        "zero-quota",
        "infinite-quota",
        "negative-deal-size",
        "missing-stage-rate",
        "both-kinds-of-rate",
        "32-days",
        "days-and-month",
        "month-13",
        "more-working-days-than-days",
        "no-working-days",
    ],
)
def test_bad_inputs_are_named_with_what_is_valid(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "quota": 500_000,
        "deal_size": 2_000,
        "win_rate": 0.23,
        "sql_to_opportunity": 0.82,
        "lead_to_sql": 1 / 3,
    } | kwargs
    with pytest.raises(FunnelError, match=message):
        plan(**arguments)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"win_rate": 0.2, "sql_to_opportunity": 0.8}],
    ids=["no-rates-at-all", "two-of-three"],
)
def test_the_stage_rates_missing_are_named(kwargs: dict[str, Any]) -> None:
    with pytest.raises(FunnelError, match=r"missing \(give the three, or lead_to_customer\)"):
        plan(500_000, 2_000, **kwargs)


def test_render_prints_an_aligned_table_leads_first() -> None:
    result = worked_example(0.3333, month=(2026, 11))
    assert render(result) == (
        "revenue goal from marketing: 500,000 (November 2026, 30 days)\n"
        "stage           per month   per day\n"
        "leads               3,979     132.6\n"
        "SQLs                1,326      44.2\n"
        "opportunities       1,087      36.2\n"
        "deals                 250       8.3"
    )


def test_as_dict_has_each_stage_per_month_per_day_and_unrounded() -> None:
    result = worked_example(0.3333, month=(2026, 11))
    assert as_dict(result) == {
        "revenue_goal": 500_000,
        "days_in_month": 30,
        "working_days": None,
        "month": "2026-11",
        "stages": {
            "deals": {"per_month": 250, "per_day": 8.33, "exact": 250.0},
            "opportunities": {"per_month": 1_087, "per_day": 36.23, "exact": 1_086.9565},
            "SQLs": {"per_month": 1_326, "per_day": 44.2, "exact": 1_325.6098},
            "leads": {"per_month": 3_979, "per_day": 132.63, "exact": 3_978.3978},
        },
    }


@pytest.mark.parametrize(
    ("year", "month", "days"),
    [(2026, 11, 30), (2026, 12, 31), (2027, 2, 28), (2028, 2, 29)],
    ids=["november", "december", "february", "leap-february"],
)
def test_days_in_counts_the_calendar_month(year: int, month: int, days: int) -> None:
    assert days_in(year, month) == days


@settings(deadline=timedelta(seconds=5))  # explicit: a loaded 2-core machine
@given(
    quota=amounts,
    deal=amounts,
    stage_rates=st.tuples(rates, rates, rates),
    which=st.integers(min_value=0, max_value=2),
    worse=st.floats(min_value=0.01, max_value=1.0),
)
def test_a_more_demanding_rate_never_needs_fewer_leads(
    quota: float, deal: float, stage_rates: tuple[float, float, float], which: int, worse: float
) -> None:
    factors = tuple(worse if i == which else 1.0 for i in range(3))
    harder_rates = (
        stage_rates[0] * factors[0],
        stage_rates[1] * factors[1],
        stage_rates[2] * factors[2],
    )
    base = plan(quota, deal, 1.0, *stage_rates)
    harder = plan(quota, deal, 1.0, *harder_rates)
    assert all(h.per_month >= b.per_month for h, b in zip(harder.stages, base.stages, strict=True))
    assert harder.leads >= base.leads
    shortcut = plan(quota, deal, lead_to_customer=math.prod(stage_rates))
    harder_shortcut = plan(quota, deal, lead_to_customer=math.prod(harder_rates))
    assert harder_shortcut.leads >= shortcut.leads


@settings(deadline=timedelta(seconds=5))  # explicit: a loaded 2-core machine
@given(quota=amounts, deal=amounts, win=rates, sql=rates, lead=rates)
def test_lead_to_customer_shortcut_matches_the_three_rates_within_rounding(
    quota: float, deal: float, win: float, sql: float, lead: float
) -> None:
    # Rounding up at each stage can only add: at most one unit per stage, carried down.
    stages = plan(quota, deal, 1.0, win, sql, lead)
    shortcut = plan(quota, deal, lead_to_customer=win * sql * lead)
    assert stages.deals == shortcut.deals
    assert shortcut.leads <= stages.leads
    assert stages.leads <= shortcut.stages[-1].exact + 1 / (sql * lead) + 1 / lead + 1 + 1e-6


@pytest.mark.parametrize(
    ("monthly_goal", "day", "days", "expected"),
    [
        (3_900, 15, 30, 1_950),
        (3_900, 1, 30, 130),
        (3_900, 0, 30, 0),
        (3_900, 30, 30, 3_900),
        (2_900, 29, 29, 2_900),
    ],
    ids=["half-way", "first-day", "start-of-month", "last-day", "leap-february-end"],
)
def test_goal_line_grows_by_g_over_n_per_day(
    monthly_goal: float, day: int, days: int, expected: float
) -> None:
    assert goal_to_date(monthly_goal, day, days) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("day", "days", "message"),
    [(31, 30, r"day_of_month: 31 is not 0 to 30"), (-1, 30, "day_of_month: -1"), (5, 0, "days")],
    ids=["day-after-month-end", "negative-day", "no-days"],
)
def test_goal_line_outside_the_month_is_an_error(day: int, days: int, message: str) -> None:
    with pytest.raises(FunnelError, match=message):
        goal_to_date(3_900, day, days)


@pytest.mark.parametrize(
    ("actual", "goal", "expected"),
    [
        (1_800, 1_950, 0.923),  # 7.7% behind: within the normal +-10%
        (1_950, 1_950, 1.0),
        (2_145, 1_950, 1.1),
        (0, 0, 1.0),
        (5, 0, math.inf),
    ],
    ids=["7.7%-behind", "on-track", "10%-ahead", "nothing-due-nothing-done", "ahead-of-no-goal"],
)
def test_pacing_is_actual_over_goal_to_date(actual: float, goal: float, expected: float) -> None:
    assert pacing(actual, goal) == pytest.approx(expected, abs=1e-3)
