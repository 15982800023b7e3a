"""Records out of a replay: the warnings and breaches as published, and per-rule rows for sheets.

``--violations-out`` writes each warning and breach value exactly as the worker sends it
to ``sla.warnings`` / ``sla.breaches`` (same id, fields and order of detection; retractions
too, which a replay makes only when a restarted clock is met), one JSON object per line.
``--outcomes-csv`` writes one row per lead, hand-off cycle and rule with its status (met,
breached, stopped, pending), so a spreadsheet can re-count the report.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

import orjson

from stream_sla.sla.effects import BreachRetracted, Effect, SlaViolation
from stream_sla.sla.outcomes import RuleOutcome
from stream_sla.sla.timestamps import format_ms

OUTCOME_COLUMNS = (
    "lead_id",
    "handed_at",
    "rule",
    "status",
    "deadline_at",
    "taken_seconds",
    "owner",
    "team",
    "policy_segment",
)


def write_violations(path: Path, effects: Iterable[Effect]) -> int:
    """The published records, in the order the engine detected them; returns how many."""
    written = 0
    with path.open("wb") as out:
        for effect in effects:
            if isinstance(effect, SlaViolation | BreachRetracted):
                out.write(orjson.dumps(effect.to_record()) + b"\n")
                written += 1
    return written


def write_outcomes(path: Path, rows: Iterable[RuleOutcome]) -> int:
    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(OUTCOME_COLUMNS)
        for row in rows:
            writer.writerow(
                (
                    row.lead_id,
                    format_ms(row.cycle_started_at),
                    row.rule.value,
                    row.status.value,
                    format_ms(row.deadline_at),
                    "" if row.taken_seconds is None else f"{row.taken_seconds:g}",
                    row.owner,
                    row.team,
                    row.policy_segment,
                )
            )
            written += 1
    return written
