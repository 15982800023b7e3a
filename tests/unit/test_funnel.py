"""Marketing's MQL goal worked back from the quota (the worked example of the source documents)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream_sla.sla.funnel import FunnelError, goal_to_date, pacing, plan, render

rates = st.floats(min_value=0.05, max_value=1.0)


def test_worked_example_500k_quota_2k_deals_needs_about_3900_mqls() -> None:
    result = plan(500_000, 2_000, 1.0, win_rate=0.23, sql_to_opportunity=0.82, lead_to_sql=1 / 3)
    assert [(s.name, s.per_month) for s in result.stages] == [
        ("deals", 250),
        ("opportunities", 1_087),
        ("SQLs", 1_326),
        ("leads", 3_978),  # "about 3,900" in the source, which rounds the last step down
    ]
    assert result.per_day(result.stages[-1]) == pytest.approx(132.6, abs=0.05)


def test_rate_typed_as_0_3333_needs_one_lead_more() -> None:
    result = plan(500_000, 2_000, win_rate=0.23, sql_to_opportunity=0.82, lead_to_sql=0.3333)
    assert result.leads == 3_979


def test_one_lead_to_customer_rate_skips_the_middle_stages() -> None:
    result = plan(500_000, 2_000, lead_to_customer=0.0625)
    assert [(s.name, s.per_month) for s in result.stages] == [("deals", 250), ("leads", 4_000)]


def test_half_the_revenue_from_marketing_halves_the_funnel() -> None:
    result = plan(500_000, 2_000, 0.5, win_rate=0.25, sql_to_opportunity=0.5, lead_to_sql=0.5)
    assert [s.per_month for s in result.stages] == [125, 500, 1_000, 2_000]
    assert "leads" in render(result)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"win_rate": 1.3, "sql_to_opportunity": 0.8, "lead_to_sql": 0.3},
            "win_rate: 1.3 is not a rate",
        ),
        ({"win_rate": 0.2, "sql_to_opportunity": 0.8}, "lead_to_sql: missing"),
        ({"win_rate": 0.2, "lead_to_customer": 0.05}, "not both"),
        ({"lead_to_customer": 0.0}, "lead_to_customer: 0.0 is not a rate"),
    ],
    ids=["rate-above-one", "missing-stage-rate", "both-kinds-of-rate", "zero-rate"],
)
def test_bad_inputs_are_named(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(FunnelError, match=message):
        plan(500_000, 2_000, **kwargs)


@given(win=rates, sql=rates, lead=rates, worse=st.floats(min_value=0.5, max_value=0.99))
def test_a_worse_rate_never_needs_fewer_leads(
    win: float, sql: float, lead: float, worse: float
) -> None:
    base = plan(100_000, 1_000, win_rate=win, sql_to_opportunity=sql, lead_to_sql=lead)
    harder = plan(100_000, 1_000, win_rate=win * worse, sql_to_opportunity=sql, lead_to_sql=lead)
    assert harder.leads >= base.leads


def test_goal_line_grows_by_g_over_n_per_day() -> None:
    assert goal_to_date(3_900, 15, 30) == 1_950
    assert pacing(1_800, 1_950) == pytest.approx(0.923, abs=0.001)  # 7.7% behind: normal
    assert pacing(0, 0) == 1.0
