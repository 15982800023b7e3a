"""A changelog written by the release before the engine (issue 17) is read by the engine
with nothing sent twice and nothing missed.

The fixture was recorded with the old ``LeadProcessor`` (its own store, snapshot FORMAT 2):
four leads on two partitions, one breach already published, and the violations the old
release published after restoring those rows and sweeping to T0+3h.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from stream_sla.metrics import Metrics
from stream_sla.sla.policy import Policy
from stream_sla.stream.processor import LeadProcessor

FIXTURE = Path(__file__).parents[1] / "fixtures" / "changelog" / "before-issue-17.json"
MIN = 60_000


def rows(table: dict[str, str]) -> dict[str, bytes]:
    return {key: base64.b64decode(value) for key, value in table.items()}


def test_rows_of_the_previous_release_restore_with_no_violation_sent_twice() -> None:
    recorded = json.loads(FIXTURE.read_text())
    t0 = recorded["recorded_at_ms"]
    clock = [t0]
    p = LeadProcessor(Policy(), Metrics(), clock=lambda: clock[0])
    for partition in (0, 1):
        p.restore(
            partition,
            rows(recorded["rows"]["lead-state"][str(partition)]),
            rows(recorded["rows"]["mql-tally"].get(str(partition), {})),
        )
    assert len(p.engine) == 4
    assert sorted((m, c) for m, _, c, _ in p.engine.mql_rows()) == [("2026-11", 2), ("2026-11", 2)]

    published = []
    for minute in range(0, 181, 5):
        now = clock[0] = t0 + minute * MIN
        outbox = p.fire(p.index.pop_due(now), now)
        published += [
            {
                "at": now,
                "id": v.id,
                "severity": v.severity.value,
                "rule": v.rule.value,
                "lead_id": v.lead_id,
            }
            for v in outbox.violations
        ]
    assert published == recorded["emitted_after_restart"]
    assert not {v["id"] for v in published} & set(recorded["emitted_before_restart"])
    # the rows the sweep wrote are what a later release reads back: same format, same ids
    changed = p.take_changes().leads
    restored = LeadProcessor(Policy(), Metrics(), clock=lambda: clock[0])
    for partition, values in changed.items():
        kept = dict(p.engine.lead_rows(partition))
        assert {k for k, v in values.items() if v is not None} <= set(kept)
        restored.restore(partition, kept, {})
    now = t0 + 181 * MIN
    assert restored.fire(restored.index.pop_due(now), now).violations == []
