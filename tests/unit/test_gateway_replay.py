"""``stream-sla replay --from <crm>``: raw vendor payloads through the gateway's translators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream_sla.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crm"


def payload_lines(source: str) -> list[Any]:
    if source == "hubspot":
        batch = json.loads((FIXTURES / "hubspot-new-contact-batch.json").read_text())["body"]
        silent = [
            dict(batch[1], eventId=1, objectId=2002),
            dict(batch[0], eventId=2, objectId=2002),
        ]
        return [batch, silent]
    if source == "pipedrive":
        return json.loads((FIXTURES / "pipedrive-lead-and-call.json").read_text())["bodies"]
    return json.loads((FIXTURES / "salesforce-cdc-lead-and-task.json").read_text())["records"]


def replayed(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str) -> dict[str, Any]:
    path = tmp_path / f"{source}.jsonl"
    lines = [orjson.dumps(p) for p in payload_lines(source)] + [b"not json", b""]
    path.write_bytes(b"\n".join(lines))
    until = "2025-12-01T13:00:00Z"
    assert main(["replay", "--from", source, str(path), "--until", until, "--format", "json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


@pytest.mark.parametrize(
    ("source", "met", "breached", "leads"),
    [("hubspot", 1, 1, 2), ("pipedrive", 1, 0, 1), ("salesforce", 1, 0, 1)],
    ids=["hubspot", "pipedrive", "salesforce"],
)
def test_raw_payload_files_are_replayed_through_the_translators(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    source: str,
    met: int,
    breached: int,
    leads: int,
) -> None:
    report = replayed(tmp_path, capsys, source)
    first_touch = report["rules"]["first_touch"]
    assert (first_touch["met"], first_touch["breached"], report["leads"]) == (met, breached, leads)
    assert report["rejected"] == {"invalid_json": 1}  # the line that is no payload
