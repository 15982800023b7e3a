"""The Faust agents in Faust's test context: decode, state, dead letters, deadline ticks.

No broker here (timers, rebalances and recovery need the real one: see
tests/integration). Effects go to a recording publisher instead of Kafka topics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from stream_sla.config import Settings
from stream_sla.metrics import Metrics
from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.events import EventRejected, RejectReason
from stream_sla.stream.app import SlaWorker
from stream_sla.stream.processor import TICK, Record, encode_tick

T0 = 1_793_628_000_000
HOUR = 3_600_000


@dataclass
class RecordingPublisher:
    violations: list[SlaViolation] = field(default_factory=list)
    dead_letters: list[tuple[Record, EventRejected]] = field(default_factory=list)

    async def violation(self, violation: SlaViolation) -> None:
        self.violations.append(violation)

    async def dead_letter(self, record: Record, rejected: EventRejected) -> None:
        self.dead_letters.append((record, rejected))


@dataclass
class Clock:
    now: int = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[tuple[SlaWorker, RecordingPublisher, Clock]]:
    publisher, clock = RecordingPublisher(), Clock()
    settings = Settings(store="memory://", data_dir=tmp_path, app_id="test-agents")
    sla = SlaWorker(settings, metrics=Metrics(), clock=clock, publisher=publisher)
    sla.app.finalize()
    sla.app.conf.store = "memory://"
    sla.app.flow_control.resume()
    sla.app.loop = asyncio.get_running_loop()
    yield sla, publisher, clock


def event(**fields: object) -> bytes:
    return orjson.dumps(fields)


async def test_hand_off_then_tick_after_deadline_emits_one_breach(
    worker: tuple[SlaWorker, RecordingPublisher, Clock],
) -> None:
    sla, publisher, clock = worker
    async with sla.agents["handed-to-sales"].test_context() as agent:
        await agent.put(
            event(
                event_id="h1",
                lead_id="L-1",
                occurred_at="2026-11-02T14:00:00Z",
                owner="ana",
                team="smb-east",
            ),
            key=b"L-1",
        )
    assert sla.processor.index.next_at() == T0 + 45 * 60_000
    assert sla.metrics.open_leads.team_totals()["smb-east"]["awaiting_first_touch"] == 1

    clock.now = T0 + HOUR + 100
    async with sla.agents[TICK].test_context() as ticks:
        await ticks.put(encode_tick("L-1", T0 + HOUR), key=b"L-1")
        await ticks.put(encode_tick("L-1", T0 + HOUR), key=b"L-1")  # a duplicate tick

    [breach] = publisher.violations
    assert (breach.severity, breach.lead_id, breach.deadline_at) == (
        Severity.BREACH,
        "L-1",
        T0 + HOUR,
    )
    assert sla.processor.index.next_at() == T0 + 36 * HOUR  # next: the disposition warning


async def test_malformed_event_is_dead_lettered_and_the_agent_keeps_going(
    worker: tuple[SlaWorker, RecordingPublisher, Clock],
) -> None:
    sla, publisher, _ = worker
    async with sla.agents["contact-attempt"].test_context() as agent:
        await agent.put(b"not json", key=b"L-2")
        await agent.put(
            event(
                event_id="a1",
                lead_id="L-2",
                occurred_at="2026-11-02T14:00:00",
                channel="call",
                outcome="no_answer",
            ),
            key=b"L-2",
        )
        await agent.put(
            event(
                event_id="a2",
                lead_id="L-2",
                occurred_at="2026-11-02T14:00:00Z",
                channel="pigeon",
                outcome="no_answer",
            ),
            key=b"L-2",
        )
        await agent.put(
            event(
                event_id="a3",
                lead_id="L-2",
                occurred_at="2026-11-02T14:00:00Z",
                channel="call",
                outcome="no_answer",
            ),
            key=b"L-2",
        )
    reasons = [rejected.reason for _, rejected in publisher.dead_letters]
    assert reasons == [
        RejectReason.INVALID_JSON,
        RejectReason.BAD_TIMESTAMP,
        RejectReason.INVALID_VALUE,
    ]
    assert publisher.dead_letters[0][0].value == b"not json"
    assert sla.table[b"L-2"] is not None  # the valid attempt after them was applied
