"""`stream-sla notifier` refuses a bad routing file before it touches Kafka: exit 2, file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_sla.cli import main

from .fixtures import ROUTING, write


def test_bad_routing_file_stops_start_up_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, ROUTING.replace("via: [mail, crm]", "via: [mail, fax]"))
    assert main(["notifier", "--routing", str(path)]) == 2
    err = capsys.readouterr().err
    assert "notifications.yaml:22: routes[0].via[1]: unknown channel 'fax'" in err


def test_notifier_without_a_routing_file_says_how_to_give_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STREAM_SLA_NOTIFICATIONS_FILE", raising=False)
    assert main(["notifier"]) == 2
    assert "--routing or STREAM_SLA_NOTIFICATIONS_FILE" in capsys.readouterr().err


def test_people_file_errors_are_located_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "people.yaml").write_text("people:\n  - {id: '1', name: A}\n")
    path = write(tmp_path, "people: people.yaml\n" + ROUTING)
    assert main(["notifier", "--routing", str(path)]) == 2
    assert "people.yaml:2: people[0].team: required" in capsys.readouterr().err
