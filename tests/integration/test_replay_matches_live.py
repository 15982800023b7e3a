"""Replaying a stream offline gives exactly the breaches the live worker emitted for it."""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson

from stream_sla.replay import read_events, replay
from stream_sla.simulation import SimulationPlan, simulate
from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.policy import Policy

from .harness import Harness, now_ms, values

TARGET_MS = 3_000


async def test_replay_of_the_same_events_reproduces_the_live_breach_ids(harness: Harness) -> None:
    worker = harness.start_worker(first_touch_within=f"{TARGET_MS}ms")
    worker.wait_ready()
    plan = SimulationPlan(
        leads=60, start_ms=now_ms(), leads_per_second=30, first_touch_target_ms=TARGET_MS, seed=11
    )
    records = list(simulate(plan))
    await harness.produce([(r.kind, r.key, r.value) for r in records])

    last_deadline = max(r.at for r in records) + TARGET_MS
    await asyncio.sleep(max(0.0, (last_deadline - now_ms()) / 1000) + 2)
    live = await harness.consume("sla.breaches", until=lambda _: False, timeout=3)

    typed = [orjson.dumps({"type": r.kind.value, **orjson.loads(r.value)}) for r in records]
    policy = Policy().with_first_touch(TARGET_MS, 0.75)
    offline = replay(read_events(typed, Counter()), policy, until=now_ms(), keep_effects=True)
    replayed = {
        e.id
        for e in offline.effects
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    }
    live_ids = [v["id"] for v in values(live)]
    assert len(live_ids) == len(set(live_ids)), "no breach id twice"
    assert set(live_ids) == replayed
    assert len(replayed) >= 10, "the plan leaves a fair share of leads uncontacted or late"
