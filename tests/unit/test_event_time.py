"""The lateness bounds: events older than 30 days or more than 5 minutes ahead are refused.

Boundaries are inclusive (exactly 30 days old, exactly 5 minutes ahead: accepted), the
policy's ``lateness:`` replaces the defaults, and the live worker applies them per record.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stream_sla.metrics import Metrics
from stream_sla.policy_file import load_policy
from stream_sla.sla.events import (
    EventKind,
    EventRejected,
    HandedToSales,
    RejectReason,
    check_event_time,
)
from stream_sla.sla.policy import Lateness, Policy
from stream_sla.stream.processor import LeadProcessor, Record

NOW = 1_793_628_000_000  # 2026-11-02T14:00:00Z
DAY = 86_400_000
MIN = 60_000
DEFAULT = Lateness()


def at(occurred_at: int) -> HandedToSales:
    return HandedToSales("h1", "L-1", occurred_at, "ana", "t")


def test_the_default_bounds_are_30_days_late_and_5_minutes_ahead() -> None:
    assert (DEFAULT.max_late_ms, DEFAULT.max_future_ms) == (30 * DAY, 5 * MIN)


@pytest.mark.parametrize(
    "offset",
    [-30 * DAY, 0, 5 * MIN],
    ids=["exactly-30-days-old", "now", "exactly-5-minutes-ahead"],
)
def test_events_on_the_lateness_boundaries_are_accepted(offset: int) -> None:
    check_event_time(at(NOW + offset), NOW, DEFAULT.max_late_ms, DEFAULT.max_future_ms)


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-30 * DAY - 1, RejectReason.TOO_LATE), (5 * MIN + 1, RejectReason.TOO_FAR_IN_FUTURE)],
    ids=["30-days-and-1ms-old", "5-minutes-and-1ms-ahead"],
)
def test_events_a_millisecond_outside_the_bounds_are_refused(
    offset: int, reason: RejectReason
) -> None:
    with pytest.raises(EventRejected) as refused:
        check_event_time(at(NOW + offset), NOW, DEFAULT.max_late_ms, DEFAULT.max_future_ms)
    assert refused.value.reason is reason
    assert "2592000s" in refused.value.detail or "300s" in refused.value.detail


def test_a_policy_files_lateness_replaces_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "version: lateness-test\n"
        "lateness: {max_late: 2d, max_future: 30s}\n"
        "segments:\n  - name: default\n"
    )
    assert load_policy(path).lateness == Lateness(max_late_ms=2 * DAY, max_future_ms=30_000)


def _handed_record(eid: str, occurred_at: str, offset: int) -> tuple[EventKind, Record]:
    value = {"event_id": eid, "lead_id": eid, "occurred_at": occurred_at, "owner": "a", "team": "t"}
    key = eid.encode()
    return EventKind.HANDED_TO_SALES, Record(
        "crm.handed-to-sales", 0, offset, key, orjson.dumps(value)
    )


def test_the_worker_applies_the_policys_lateness_on_both_sides() -> None:
    policy = Policy(lateness=Lateness(max_late_ms=2 * DAY, max_future_ms=30_000))
    processor = LeadProcessor(policy, Metrics(), clock=lambda: NOW)
    outbox = processor.apply(
        [
            _handed_record("L-2d", "2026-10-31T14:00:00Z", 0),  # exactly 2 days: kept
            _handed_record("L-2d1s", "2026-10-31T13:59:59Z", 1),
            _handed_record("L-30s", "2026-11-02T14:00:30Z", 2),  # exactly 30 s ahead: kept
            _handed_record("L-31s", "2026-11-02T14:00:31Z", 3),
        ]
    )
    refused = {record.key: rejected.reason for record, rejected in outbox.dead_letters}
    assert refused == {
        b"L-2d1s": RejectReason.TOO_LATE,
        b"L-31s": RejectReason.TOO_FAR_IN_FUTURE,
    }
    assert processor.engine.lead_row(0, "L-2d") is not None
    assert processor.engine.lead_row(0, "L-30s") is not None
