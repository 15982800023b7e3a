"""The replay report counts strikes as the notifier does, checked against a hand count.

First touch only (1 hour): a lead handed over and never touched is one breach of its rep,
at hand-off + 1 h. Strike windows are consecutive 30-day periods from the Unix epoch; the
stream is placed around one window boundary ``EDGE`` so the fixed windows show.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from stream_sla import report
from stream_sla.cli import main
from stream_sla.notify.model import Notice
from stream_sla.notify.strikes import StrikeCounter
from stream_sla.replay import read_events, replay
from stream_sla.sla.effects import BreachRetracted, Severity, SlaViolation
from stream_sla.sla.policy import Reassignment
from tests.unit.test_report_figures import POLICY, event, ms

HOUR = 3_600_000
DAY = 86_400_000
WINDOW = 30 * DAY
EDGE = (ms("2026-08-15T00:00:00") // WINDOW + 1) * WINDOW  # 2026-09-04 00:00 UTC, day 20,700

# (rep, hand-off relative to EDGE, touched?) -- an untouched lead is a breach at +1 h.
LEADS: list[tuple[str, int, bool]] = [
    # ana: 4 breaches in the window before EDGE -> 1 strike (the 4th starts the next one)
    ("ana", -10 * DAY, False),
    ("ana", -9 * DAY, False),
    ("ana", -8 * DAY, False),
    ("ana", -7 * DAY, False),
    # ana: 3 more after EDGE -> a 2nd strike, in the new window
    ("ana", 1 * DAY, False),
    ("ana", 2 * DAY, False),
    ("ana", 3 * DAY, False),
    # ben: 2 before EDGE and 1 after -> 3 breaches within 30 days yet no strike (two windows)
    ("ben", -2 * DAY, False),
    ("ben", -1 * DAY, False),
    ("ben", 1 * DAY, False),
    # cai: 3 leads, one touched in time -> 2 breaches, no strike
    ("cai", -5 * DAY, False),
    ("cai", -4 * DAY, False),
    ("cai", -3 * DAY, True),
]


def lines() -> list[bytes]:
    out = []
    for n, (rep, offset, touched) in enumerate(LEADS):
        lead, at = f"L-{n}", EDGE + offset
        out.append(event("lead-created", f"{lead}-c", lead, at, source="web_form"))
        out.append(event("handed-to-sales", f"{lead}-h", lead, at, owner=rep, team="t"))
        if touched:
            out.append(
                event(
                    "contact-attempt",
                    f"{lead}-a",
                    lead,
                    at + 600_000,
                    channel="call",
                    outcome="no_answer",
                )
            )
    return out


def built(**strikes: Any) -> dict[str, Any]:
    result = replay(read_events(lines(), Counter()), POLICY, until=EDGE + 20 * DAY)
    return report.build(result, **strikes)


def test_report_strikes_match_a_hand_count_in_fixed_windows() -> None:
    found = built()
    assert found["rules"]["first_touch"]["breached"] == 12  # ana 7, ben 3, cai 2
    # ana's 3rd breach (EDGE - 8 d + 1 h, August) and her 7th (EDGE + 3 d + 1 h, September)
    assert found["strikes"] == [
        {"rule": "first_touch", "who": "ana", "strikes": 2, "months": ["2026-08", "2026-09"]},
    ]
    assert found["strike_settings"] == {"breaches": 3, "within_seconds": 30 * 86_400}


def test_report_strikes_follow_the_threshold_and_window_given() -> None:
    # 2 in 30d: ana 4 -> 2 and 3 -> 1; ben 2 -> 1 and 1 -> 0; cai 2 -> 1
    two = built(strike_breaches=2)
    assert [(s["who"], s["strikes"]) for s in two["strikes"]] == [
        ("ana", 3),
        ("ben", 1),
        ("cai", 1),
    ]
    # 3 in 31d: the window of days 20,677..20,708 (EDGE - 23 d .. EDGE + 8 d) holds every
    # breach: ana's 7 -> 2 strikes, ben's 3 -> 1, cai's 2 -> 0
    assert (EDGE // DAY) // 31 * 31 == EDGE // DAY - 23
    wide = built(strike_within_ms=31 * DAY)
    assert [(s["who"], s["strikes"]) for s in wide["strikes"]] == [("ana", 2), ("ben", 1)]


def test_report_strikes_of_a_month_are_those_completed_in_it() -> None:
    result = replay(
        read_events(lines(), Counter()), POLICY, until=EDGE + 20 * DAY, keep_effects=True
    )
    assert report.build(result, month="2026-07")["strikes"] == []
    for month in ("2026-08", "2026-09"):
        only = report.build(result, month=month)["strikes"]
        assert only == [{"rule": "first_touch", "who": "ana", "strikes": 1, "months": [month]}]


def test_replay_routing_flag_takes_the_notifiers_strike_settings(
    tmp_path: Path, capsys: Any
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines()) + b"\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: t1\nsegments:\n  - name: default\n    attempts: off\n    disposition: off\n"
        "marketing: {monthly_mqls: null}\n"
    )
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "strikes: {breaches: 2, within: 30d}\n"
        "channels:\n  mail: {type: smtp, host: 127.0.0.1, port: 2525, starttls: false,"
        " sender: sla@x.example}\n"
        "routes:\n  - {name: all, when: {severity: breach}, notify: [owner], via: [mail]}\n"
    )
    until = ["--until", "2026-09-12T00:00:00Z", "--policy", str(policy)]
    html = tmp_path / "r.html"
    code = main(
        [
            "replay",
            str(events),
            *until,
            "--routing",
            str(routing),
            "--format",
            "json",
            "--html",
            str(html),
        ]
    )
    assert code == 0
    out = orjson.loads(capsys.readouterr().out)
    assert [(s["who"], s["strikes"]) for s in out["strikes"]] == [
        ("ana", 3),
        ("ben", 1),
        ("cai", 1),
    ]
    page = html.read_text()
    assert "2 breaches of one rep within a 30d window" in page
    assert "<td>ana</td>" in page
    text_code = main(["replay", str(events), *until])
    assert text_code == 0
    text = capsys.readouterr().out
    assert "Strikes (3 breaches of one rep within a 30d window)" in text
    assert "ana" in text.split("Strikes (")[1].split("\n")[1]


def test_replay_refuses_a_bad_routing_file_with_its_line(tmp_path: Path, capsys: Any) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines()) + b"\n")
    routing = tmp_path / "routing.yaml"
    routing.write_text("channels: {}\nroutes: []\nstrikes: {breaches: 0}\n")
    assert main(["replay", str(events), "--routing", str(routing)]) == 2
    err = capsys.readouterr().err
    assert "stream-sla replay: --routing:" in err and "routing.yaml:3" in err


def test_a_retracted_breach_counts_towards_no_strike_as_in_the_notifier() -> None:
    """Under ``reassignment: restart`` the replay itself retracts: ana misses three leads, but
    one is re-assigned to ben 70 minutes in and he touches it at 80, so that breach is
    withdrawn. Two effective breaches: no strike. The notifier, fed the same records as it
    reads them from sla.breaches (a breach, then its retraction), counts the same."""
    policy = replace(POLICY, reassignment=Reassignment.RESTART)
    lines = []
    for n in range(3):
        lead, at = f"L-{n}", EDGE - (5 - n) * DAY
        lines.append(event("lead-created", f"{lead}-c", lead, at, source="web_form"))
        lines.append(event("handed-to-sales", f"{lead}-h", lead, at, owner="ana", team="t"))
    lines.append(
        event(
            "handed-to-sales", "L-2-h2", "L-2", EDGE - 3 * DAY + 70 * 60_000, owner="ben", team="t"
        )
    )
    lines.append(
        event(
            "contact-attempt",
            "L-2-a",
            "L-2",
            EDGE - 3 * DAY + 80 * 60_000,
            channel="call",
            outcome="no_answer",
        )
    )
    result = replay(read_events(lines, Counter()), policy, until=EDGE, keep_effects=True)
    retractions = [e for e in result.effects if isinstance(e, BreachRetracted)]
    assert len(retractions) == 1
    assert report.build(result)["strikes"] == []
    assert report.build(result, strike_breaches=2)["strikes"] == [
        {"rule": "first_touch", "who": "ana", "strikes": 1, "months": ["2026-08"]}
    ]

    live = StrikeCounter(2, WINDOW)
    strikes = []
    for effect in result.effects:
        if isinstance(effect, SlaViolation) and effect.severity is Severity.BREACH:
            strikes.append(live.record(Notice.from_record(effect.to_record())))
        elif isinstance(effect, BreachRetracted):
            live.forget(effect.retracts)
    # live, ana's first two breaches already made a strike before the third was retracted
    # (a published strike stays); the report, like a notifier re-reading, has the same one
    assert [s.rep for s in strikes if s is not None] == ["ana"]
