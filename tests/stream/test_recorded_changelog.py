"""A changelog written by the release before the engine (issue 17) is read by the engine
with nothing sent twice and nothing missed.

``before-issue-17.json`` was recorded with the old ``LeadProcessor`` (its own store, snapshot
FORMAT 2): four leads on two partitions, one breach already published, and the violations the
old release published after restoring those rows and sweeping to T0+3h.

``format-2-keys.json`` was recorded with the engine that still wrote FORMAT 2 (emitted keys as
strings): rows holding every kind of key, then late events read after the restart that move
cycle starts and retract a breach a second time, with every effect the old release published.
Today's code writes FORMAT 3 and must read both as they are.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path
from typing import Any

import orjson

from stream_sla.metrics import Metrics
from stream_sla.sla.effects import Effect
from stream_sla.sla.engine import SlaEngine
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import DEFAULT_SEGMENT, FirstTouchRule, Policy, Segment
from stream_sla.stream.processor import LeadProcessor, Record

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


FORMAT_2_KEYS = FIXTURE.parent / "format-2-keys.json"
PARTNER_FAST = Policy(
    segments=(
        Segment("partner", (("source", frozenset({"partner"})),), FirstTouchRule(30 * MIN)),
        DEFAULT_SEGMENT,
    )
)
"""The policy ``format-2-keys.json`` was recorded with (``record_format_2_keys.py``)."""


def effect_rows(at: int, effects: list[Effect]) -> list[dict[str, Any]]:
    """Effects as the recording has them; ``owners`` (issue 15, owner shares) came after the
    recording and is left out when empty (no lead there changed hands inside a cycle)."""
    rows = []
    for e in effects:
        fields = orjson.loads(orjson.dumps(dataclasses.asdict(e)))
        if fields.get("owners") == []:
            del fields["owners"]
        rows.append({"at": at, "type": type(e).__name__, **fields})
    return rows


def test_every_kind_of_format_2_key_is_taken_over_with_the_same_effects_after_a_restart() -> None:
    """Sent, skipped, measured, settled and retracted keys; late hand-offs that move cycle
    starts and late profiles that re-publish and retract a breach a second time (generation 1
    of its retraction id). The new code, restored from the old rows, must do what the old
    release did after its own restart, effect for effect."""
    recorded = json.loads(FORMAT_2_KEYS.read_text())
    engine: SlaEngine[Record] = SlaEngine(PARTNER_FAST)
    for partition, table in recorded["rows"]["lead-state"].items():
        engine.restore(int(partition), rows(table), {})
    arrivals = [
        (
            r["at"],
            EventKind(r["kind"]),
            Record(
                f"crm.{r['kind']}", r["partition"], o, r["key"].encode(), orjson.dumps(r["value"])
            ),
        )
        for o, r in enumerate(recorded["records_after_restart"])
    ]
    sweeps = recorded["sweeps_after_restart"]
    published: list[dict[str, Any]] = []
    for now in range(sweeps["from_ms"], sweeps["to_ms"] + 1, sweeps["every_ms"]):
        batch = [(kind, record) for at, kind, record in arrivals if at <= now]
        arrivals = [a for a in arrivals if a[0] > now]
        if batch:
            published += effect_rows(now, engine.apply(batch, now).effects)
        published += effect_rows(now, engine.fire(engine.pop_due(now), now).effects)
    assert published == recorded["effects_after_restart"]

    # the rows written since are read back by the next restart: nothing goes out again
    again: SlaEngine[Record] = SlaEngine(PARTNER_FAST)
    for partition in (0, 1):
        again.restore(partition, dict(engine.lead_rows(partition)), {})
    end = sweeps["to_ms"] + sweeps["every_ms"]
    assert again.fire(again.pop_due(end), end).effects == []
