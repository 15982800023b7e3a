"""The review's figures equal what a person computes by hand for a small stream.

Issue 16 asked for the report's compliance, p50/p90 and renegotiate values to be
checked against hand-computed figures; issue 18 adds per-rule outcomes, the funnel from
actuals and speed to lead. Every expected number below is worked out in the comments.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from stream_sla import report
from stream_sla.replay import read_events, replay
from stream_sla.sla.outcomes import Status
from stream_sla.sla.policy import MarketingGoals, Policy, Segment
from stream_sla.sla.speed_to_lead import MIN_PER_SIDE, wilson

MINUTE = 60_000
# First touch only (1 hour, target 90%): one rule makes every figure easy to follow.
POLICY = Policy(
    segments=(Segment("default", attempts=None, disposition=None),),
    marketing=MarketingGoals(monthly_mqls=None),
)

# Minutes from hand-off to the first attempt for four leads a month; None: never touched.
# Over 60 is a breach of the 1-hour promise.
TOUCHES: dict[str, list[int | None]] = {
    "2026-08": [10, 20, 30, 90],  # 3 met, 1 breached: 75% < 90%
    "2026-09": [5, 40, None, 120],  # 2 met, 2 breached: 50%
    "2026-10": [15, 45, 50, 70],  # 3 met, 1 breached: 75%
}


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def event(kind: str, event_id: str, lead_id: str, at: int, **fields: Any) -> bytes:
    occurred_at = datetime.fromtimestamp(at / 1000, UTC).isoformat().replace("+00:00", "Z")
    body = {"type": kind, "event_id": event_id, "lead_id": lead_id, "occurred_at": occurred_at}
    return orjson.dumps({**body, **fields})


def stream(touches: dict[str, list[int | None]]) -> list[bytes]:
    lines = []
    for month, minutes in touches.items():
        for n, touch in enumerate(minutes):
            lead, handed = f"L-{month}-{n}", ms(f"{month}-03T10:00:00")
            lines.append(event("lead-created", f"{lead}-c", lead, handed, source="web_form"))
            lines.append(
                event("handed-to-sales", f"{lead}-h", lead, handed, owner=f"rep-{n}", team="t")
            )
            if touch is not None:
                lines.append(
                    event(
                        "contact-attempt",
                        f"{lead}-a",
                        lead,
                        handed + touch * MINUTE,
                        channel="call",
                        outcome="no_answer",
                    )
                )
    return lines


def review(touches: dict[str, list[int | None]]) -> tuple[dict[str, Any], Any]:
    result = replay(read_events(stream(touches), Counter()), POLICY, until=ms("2026-11-30T00:00"))
    return report.build(result), result


def test_report_compliance_percentiles_and_renegotiate_flag_match_hand_computed_figures() -> None:
    built, _ = review(TOUCHES)
    first_touch = built["rules"]["first_touch"]
    # 8 of 12 hand-offs touched within the hour; 4 breached (90, 120, never, 70 minutes)
    assert (first_touch["met"], first_touch["breached"], first_touch["stopped"]) == (8, 4, 0)
    assert first_touch["compliance"] == pytest.approx(8 / 12)
    # The 11 touches in seconds, sorted: 300 600 900 1200 1800 2400 2700 3000 4200 5400 7200.
    # p50 is the 6th (ceil(0.5 x 11)) = 2400 s, p90 the 10th (ceil(0.9 x 11)) = 5400 s, the
    # mean 29,700 / 11 = 2,700 s. Percentiles come from 5%-wide buckets, reported at the
    # bucket's upper edge: never below the true value, at most 5% above it.
    stats = built["first_touch_seconds"]["by_team"]["t"]
    assert stats["n"] == 11
    assert stats["mean"] == pytest.approx(2700)
    assert 2400 <= stats["p50"] <= 2400 * 1.05
    assert 5400 <= stats["p90"] <= 5400 * 1.05
    # under 90% in each of the last three months: renegotiate
    assert built["renegotiate"]["first_touch"] == {
        "missed_months": ["2026-08", "2026-09", "2026-10"],
        "flag": True,
    }
    assert built["compliance_by_month"]["2026-09"]["first_touch"] == pytest.approx(0.5)


def test_a_month_on_target_among_the_last_three_clears_the_renegotiate_flag() -> None:
    built, _ = review({**TOUCHES, "2026-11": [5, 10, 15, 20]})  # November: 4 of 4 met
    assert built["renegotiate"]["first_touch"] == {
        "missed_months": ["2026-09", "2026-10"],
        "flag": False,
    }


def test_outcome_rows_give_status_deadline_time_taken_and_owner_per_lead_cycle_and_rule() -> None:
    _, result = review(TOUCHES)
    rows = {r.lead_id: r for r in report.outcomes(result)}
    assert len(rows) == 12
    late = rows["L-2026-08-3"]  # touched after 90 minutes
    assert late.status is Status.BREACHED
    assert late.deadline_at == ms("2026-08-03T11:00:00")
    assert late.taken_seconds == 90 * 60
    assert (late.owner, late.team) == ("rep-3", "t")
    never = rows["L-2026-09-2"]
    assert (never.status, never.taken_seconds) == (Status.BREACHED, None)
    assert rows["L-2026-10-0"].status is Status.MET
    assert rows["L-2026-10-0"].taken_seconds == 15 * 60


def test_a_promise_not_yet_due_at_the_end_of_the_replay_is_pending() -> None:
    lines = stream({"2026-08": [None]})
    result = replay(read_events(lines, Counter()), POLICY, until=ms("2026-08-03T10:30:00"))
    built = report.build(result)
    [row] = report.outcomes(result)
    assert row.status is Status.PENDING
    assert built["pending"] == {"leads": 1, "by_rule": {"first_touch": 1}}


def test_duplicate_events_are_counted_in_the_report() -> None:
    lines = stream(TOUCHES)
    repeated = lines + lines[-5:]  # within the lateness limit of the newest: duplicates
    result = replay(read_events(repeated, Counter()), POLICY, until=ms("2026-11-30T00:00"))
    assert report.build(result)["duplicates"] == 5


def funnel_stream() -> list[bytes]:
    """Ten leads: five qualified; of those two won (2,000 and 3,000) and one lost."""
    at = ms("2026-10-05T09:00:00")
    lines = [event("lead-created", f"c{n}", f"F{n}", at, source="web_form") for n in range(10)]
    for n in range(5):
        lines.append(
            event("lead-status-changed", f"q{n}", f"F{n}", at + MINUTE, status="qualified")
        )
    lines.append(
        event("lead-status-changed", "w0", "F0", at + 2 * MINUTE, status="won", amount=2000)
    )
    lines.append(
        event("lead-status-changed", "w1", "F1", at + 2 * MINUTE, status="won", amount=3000)
    )
    lines.append(event("lead-status-changed", "l2", "F2", at + 2 * MINUTE, status="lost"))
    return lines


def test_funnel_from_actuals_and_next_months_plan_match_hand_computed_figures() -> None:
    result = replay(read_events(funnel_stream(), Counter()), POLICY)
    found = report.build(result, quota=10_000)["funnel"]
    rates = {r["name"]: r["value"] for r in found["rates"]}
    # lead-to-SQL 5/10; SQL-to-opportunity (decided deals) 3/5; win rate 2/3; deal 5,000/2
    assert rates == {
        "lead-to-SQL": 0.5,
        "SQL-to-opportunity": 0.6,
        "win rate": round(2 / 3, 4),
        "lead-to-customer": 0.2,
        "average deal size": 2500.0,
    }
    # 10,000 / 2,500 = 4 deals; 4 / (2/3) = 6 opportunities; 6 / 0.6 = 10 SQLs; 10 / 0.5 = 20
    plan = found["next_month"]["plan"]
    assert found["next_month"]["month"] == "2026-11"
    assert {name: s["per_month"] for name, s in plan["stages"].items()} == {
        "deals": 4,
        "opportunities": 6,
        "SQLs": 10,
        "leads": 20,
    }


def test_funnel_says_a_stage_is_missing_instead_of_guessing_it() -> None:
    lines = [line for line in funnel_stream() if b'"lost"' not in line]
    found = report.build(replay(read_events(lines, Counter()), POLICY), quota=10_000)["funnel"]
    missing = {r["name"]: r["missing"] for r in found["rates"] if r["missing"]}
    assert set(missing) == {"SQL-to-opportunity", "win rate"}
    assert "no deal was lost" in missing["win rate"]
    # re-planned with lead-to-customer 2/10: 10,000 / 2,500 = 4 deals / 0.2 = 20 leads
    stages = found["next_month"]["plan"]["stages"]
    assert {name: s["per_month"] for name, s in stages.items()} == {"deals": 4, "leads": 20}
    assert "lead-to-customer" in found["next_month"]["note"]


def test_wilson_interval_matches_the_textbook_example() -> None:
    # 81 of 263 (Wilson 1927 / Newcombe 1998, table I): 0.2553 to 0.3662
    rate = wilson(81, 263)
    assert rate.low == pytest.approx(0.2553, abs=1e-4)
    assert rate.high == pytest.approx(0.3662, abs=1e-4)
    assert wilson(0, 0).low is None


def test_speed_to_lead_says_plainly_when_there_are_too_few_cycles() -> None:
    built, _ = review(TOUCHES)
    verdicts = built["speed_to_lead"]["all"]["within_hour_vs_after"]
    assert all("too few cycles to conclude" in v["verdict"] for v in verdicts.values())
    buckets = built["speed_to_lead"]["all"]["buckets"]
    # 5 min: one (5); 1 h: 7 (10 20 30 40 15 45 50); 1 day: 3 (90 120 70); never: 1
    assert {name: b["connect"]["n"] for name, b in buckets.items()} == {
        "within 5 min": 1,
        "within 1 h": 7,
        "within 1 day": 3,
        "later": 0,
        "never touched": 1,
    }
    assert MIN_PER_SIDE > 8
    assert math.isclose(buckets["within 1 h"]["connect"]["rate"], 0.0)


def test_a_months_report_counts_that_months_hand_offs_and_flags_through_that_month() -> None:
    result = replay(
        read_events(stream(TOUCHES), Counter()),
        POLICY,
        until=ms("2026-11-30T00:00"),
        keep_effects=True,
    )
    expected = {"2026-08": (3, 1), "2026-09": (2, 2), "2026-10": (3, 1)}
    for month, (met, breached) in expected.items():
        built = report.build(result, month=month)
        first_touch = built["rules"]["first_touch"]
        assert (first_touch["met"], first_touch["breached"]) == (met, breached), month
        assert built["leads"] == 4
        assert [row["day"][:7] for row in built["mql_pacing"]] == [month]
        assert built["period"]["month"] == month
    assert report.build(result, month="2026-09")["renegotiate"]["first_touch"] == {
        "missed_months": ["2026-08", "2026-09"],
        "flag": False,
    }
    assert report.build(result, month="2026-10")["renegotiate"]["first_touch"]["flag"] is True
