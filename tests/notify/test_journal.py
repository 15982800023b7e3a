"""Held reminders outlive the process: what was held and not sent is held again on start."""

from __future__ import annotations

from pathlib import Path

from stream_sla.notify.config import load_notifications
from stream_sla.notify.journal import HeldJournal
from stream_sla.notify.routing import route

from .fixtures import PEOPLE, ROUTING, notice, write


def test_held_and_not_sent_is_what_a_restart_finds(tmp_path: Path) -> None:
    config = load_notifications(write(tmp_path, ROUTING))
    a, b, c = (route(notice(lead=x), config, PEOPLE).deliveries[0] for x in ("L-a", "L-b", "L-c"))
    journal = HeldJournal(tmp_path / "held.jsonl")
    journal.hold([a, b])
    journal.hold([c])
    journal.done([b])
    with (tmp_path / "held.jsonl").open("ab") as f:
        f.write(b'{"op": "hold", "key": "torn')  # a crash in the middle of a write
    assert HeldJournal(tmp_path / "held.jsonl").load() == [a, c]
    assert HeldJournal(tmp_path / "held.jsonl").load() == [a, c]  # compacted, still the same
