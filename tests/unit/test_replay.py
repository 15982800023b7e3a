"""The offline replay: same engine as live, event time as the clock, any input order."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import orjson

from stream_sla import report
from stream_sla.replay import read_events, replay
from stream_sla.simulation import HistoryPlan, history
from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.events import parse_timestamp
from stream_sla.sla.policy import Lateness, MarketingGoals, Policy

DAY = 86_400_000
POLICY = Policy(marketing=MarketingGoals(monthly_mqls=150, timezone="America/New_York"))


def lines(events: list[dict[str, object]]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


def breach_ids(raw: list[bytes]) -> set[str]:
    result = replay(read_events(raw, Counter()), POLICY, keep_effects=True)
    return {
        e.id
        for e in result.effects
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    }


def test_replay_gives_the_same_breaches_whatever_the_order_of_the_file_within_lateness() -> None:
    """Any arrival order in which no event comes after one 30 days newer (the live bound)."""
    events = history(HistoryPlan(leads=200, start=date(2026, 9, 1), seed=5))
    rng = random.Random(1)
    delayed = [
        (parse_timestamp(str(e["occurred_at"]), "occurred_at") + rng.randint(0, 30 * DAY), e)
        for e in events
    ]
    shuffled = lines([e for _, e in sorted(delayed, key=lambda pair: pair[0])])
    assert shuffled != lines(events)
    rejected: Counter[str] = Counter()
    assert len(read_events(shuffled, rejected)) == len(events)
    assert rejected == {}
    duplicated = shuffled + shuffled[-50:]  # repeats: ignored (or refused when too late)
    assert breach_ids(lines(events)) == breach_ids(duplicated)
    assert breach_ids(lines(events))  # the sample has breaches to compare


def _handed(eid: str, at: str) -> dict[str, object]:
    return {
        "type": "handed-to-sales",
        "event_id": eid,
        "lead_id": "L-" + eid,
        "occurred_at": at,
        "owner": "ana",
        "team": "t",
    }


def test_replay_refuses_events_older_than_the_lateness_limit_as_the_worker_does() -> None:
    """The clock is the newest event time read so far: 30 days behind it is the boundary."""
    raw = lines(
        [
            _handed("new", "2026-10-31T12:00:00.000Z"),
            _handed("exactly-30d", "2026-10-01T12:00:00.000Z"),
            _handed("30d-and-1ms", "2026-10-01T11:59:59.999Z"),
        ]
    )
    rejected: Counter[str] = Counter()
    events = read_events(raw, rejected)
    assert [e.event_id for e in events] == ["exactly-30d", "new"]
    assert rejected == {"too_late": 1}


def test_replay_honours_the_policys_lateness() -> None:
    raw = lines([_handed("new", "2026-10-31T12:00:00Z"), _handed("old", "2026-10-29T11:00:00Z")])
    rejected: Counter[str] = Counter()
    events = read_events(raw, rejected, Lateness(max_late_ms=2 * DAY))
    assert [e.event_id for e in events] == ["new"]
    assert rejected == {"too_late": 1}
    assert len(read_events(raw, Counter(), Lateness(max_late_ms=3 * DAY))) == 2


def test_bad_lines_are_counted_by_reason_and_skipped() -> None:
    good = lines(history(HistoryPlan(leads=3, start=date(2026, 9, 1))))
    rejected: Counter[str] = Counter()
    events = read_events(
        [b"{not json", b'{"type": "pigeon-post", "event_id": "x"}', b"[1, 2]", *good], rejected
    )
    assert len(events) == len(good)
    assert rejected == {"invalid_json": 1, "unknown_topic": 1, "not_an_object": 1}


def test_report_counts_every_rule_and_paces_mqls_against_the_goal_line() -> None:
    raw = lines(history(HistoryPlan(leads=300, start=date(2026, 9, 1), days=30)))
    built = report.build(replay(read_events(raw, Counter()), POLICY))
    assert set(built["rules"]) == {"first_touch", "attempts", "disposition"}
    first_touch = built["rules"]["first_touch"]
    assert first_touch["met"] + first_touch["breached"] + first_touch["stopped"] <= 300
    september = [row for row in built["mql_pacing"] if row["day"].startswith("2026-09")]
    assert sum(row["mqls"] for row in september) == september[-1]["cumulative"]
    last = september[-1]
    assert last["goal_to_date"] == round(150 * int(last["day"][-2:]) / 30, 1)
    text = report.render_text(built)
    assert "Leaderboard" in text and "Renegotiate?" in text


def test_the_shipped_sample_is_what_the_generator_makes_and_replays_with_breaches() -> None:
    import gzip
    from pathlib import Path

    from stream_sla.policy_file import load_policy

    root = Path(__file__).resolve().parents[2]
    shipped = gzip.decompress((root / "samples" / "crm-events-2026-09-10.jsonl.gz").read_bytes())
    regenerated = b"".join(
        orjson.dumps(e) + b"\n"
        for e in history(HistoryPlan(leads=3000, start=date(2026, 9, 1), days=61, seed=2026))
    )
    assert shipped == regenerated
    policy = load_policy(root / "policies" / "example.yaml")
    built = report.build(replay(read_events(shipped.splitlines(), Counter()), policy))
    assert built["leads"] == 3000
    assert all(rule["breached"] > 0 and rule["met"] > 0 for rule in built["rules"].values())
