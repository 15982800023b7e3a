"""`stream-sla replay` / `report` from the shell: files out that re-count the report, and
every bad input as one line on stderr with exit 2 (never a traceback)."""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest

from stream_sla import cli
from stream_sla.replay import read_events, replay
from stream_sla.simulation import HistoryPlan, history
from stream_sla.sla.effects import SlaViolation
from stream_sla.sla.policy import Policy


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    rows = history(HistoryPlan(leads=150, start=date(2026, 9, 1), days=30, seed=3))
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in rows))
    return path


def test_outcomes_csv_read_back_has_the_reports_totals_per_rule(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path = tmp_path / "outcomes.csv"
    args = ["replay", str(events_file), "--format", "json", "--outcomes-csv", str(csv_path)]
    assert cli.main(args) == 0
    built = json.loads(capsys.readouterr().out)
    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    counted = Counter((row["rule"], row["status"]) for row in rows)
    for rule, tally in built["rules"].items():
        assert counted[(rule, "met")] == tally["met"], rule
        assert counted[(rule, "breached")] == tally["breached"], rule
        assert counted[(rule, "stopped")] == tally["stopped"], rule
        assert counted[(rule, "pending")] == built["pending"]["by_rule"].get(rule, 0), rule
    assert (
        len({row["lead_id"] for row in rows if row["status"] == "pending"})
        == (built["pending"]["leads"])
    )
    assert sum(tally["breached"] for tally in built["rules"].values()) > 0
    # one leaderboard point per service level met: the CSV's met rows per owner and team
    assert Counter(row["owner"] for row in rows if row["status"] == "met") == dict(
        built["leaderboard"]["reps"]
    )
    assert Counter(row["team"] for row in rows if row["status"] == "met") == dict(
        built["leaderboard"]["teams"]
    )
    for rule, tally in built["rules"].items():
        by_team = built["compliance_by_team"].values()
        assert sum(t[rule]["breached"] for t in by_team if rule in t) == tally["breached"]
    for row in rows:
        assert row["deadline_at"].endswith("Z") and row["owner"] and row["team"]
        if row["status"] == "met":
            assert float(row["taken_seconds"]) >= 0


def test_violations_out_holds_exactly_the_records_the_engine_publishes(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "violations.jsonl"
    assert cli.main(["replay", str(events_file), "--violations-out", str(out)]) == 0
    assert "warning and breach records" in capsys.readouterr().err
    written = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    expected = replay(
        read_events(events_file.read_bytes().splitlines(), Counter()), Policy(), keep_effects=True
    )
    published = [e.to_record() for e in expected.effects if isinstance(e, SlaViolation)]
    assert written == published
    severities = Counter(r["severity"] for r in written)
    tallies = expected.rollup.rules.values()
    assert severities["breach"] == sum(t.breached for t in tallies)
    assert severities["warning"] == sum(t.warned for t in tallies)


def test_text_report_counts_duplicates_and_pending_leads(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doubled = tmp_path / "doubled.jsonl"
    lines = events_file.read_bytes().splitlines()
    # the newest 40 again: repeats within the lateness limit (older ones would be too_late)
    doubled.write_bytes(b"\n".join(lines + lines[-40:]) + b"\n")
    assert cli.main(["replay", str(doubled), "--until", "2026-10-01T00:00:00Z"]) == 0
    text = capsys.readouterr().out
    assert "40 duplicate events ignored;" in text
    assert "leads still pending at the end" in text


def bad_gzip(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(b'{"type": "lead-created"}\n')  # plain text under a .gz name
    return path


def truncated_gzip(tmp_path: Path) -> Path:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"type": "lead-created"}\n' * 1000)[:60])
    return path


def one_lead(tmp_path: Path) -> Path:
    path = tmp_path / "one.jsonl"
    rows = history(HistoryPlan(leads=1, start=date(2026, 9, 1), days=5))
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in rows))
    return path


def empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n")
    return path


def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"\x00\x01binary\n<html>not events</html>\n")
    return path


BAD_INPUTS = [
    ("missing", lambda t: [str(t / "nope.jsonl")], "nope.jsonl: no such file (give a JSON Lines"),
    ("directory", lambda t: [str(t)], "is a directory (give a JSON Lines file"),
    ("not gzip", lambda t: [str(bad_gzip(t))], "events.jsonl.gz: not a readable gzip file"),
    ("truncated gzip", lambda t: [str(truncated_gzip(t))], "cut.jsonl.gz: not a readable gzip"),
    ("empty", lambda t: [str(empty(t))], "empty.jsonl: holds no events (an empty file?"),
    ("no usable line", lambda t: [str(garbage(t))], "garbage.jsonl: no line is a CRM event (2"),
    (
        "until without offset",
        lambda t: ["-", "--until", "2026-11-01T00:00:00"],
        "--until: '2026-11-01T00:00:00' has no UTC offset (write e.g. 2026-11-01T00:00:00Z",
    ),
    (
        "until not RFC 3339",
        lambda t: ["-", "--until", "yesterday"],
        "--until: 'yesterday' is not an RFC 3339 time (write e.g.",
    ),
    (
        "month not YYYY-MM",
        lambda t: ["-", "--month", "2026-13"],
        "--month: '2026-13' is not a month as YYYY-MM (write e.g. 2026-10)",
    ),
    (
        "month without leads",
        lambda t: [str(one_lead(t)), "--month", "2027-03"],
        "--month: no lead was created or handed over in 2027-03 in ",
    ),
    (
        "output folder missing",
        lambda t: ["-", "--outcomes-csv", str(t / "no" / "such" / "o.csv")],
        "--outcomes-csv: folder",
    ),
    (
        "output is a directory",
        lambda t: ["-", "--violations-out", str(t)],
        "--violations-out: ",
    ),
]


@pytest.mark.parametrize("command", ["replay", "report"])
@pytest.mark.parametrize(("case", "argv", "message"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_one_line_naming_the_file_or_flag_and_exit_2(
    command: str,
    case: str,
    argv: object,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    html = ["--html", str(tmp_path / "r.html")] if command == "report" else []
    args = [command, *argv(tmp_path), *html]  # type: ignore[operator]
    assert cli.main(args) == 2, case
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"stream-sla {command}: ")
    assert message in err
    assert not (tmp_path / "r.html").exists()
