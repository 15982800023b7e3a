"""Fault tests on the real broker: crash, rebalance, broker restart, a burst of bad input.

Each runs a simulated CRM stream whose first-touch deadlines fall while the
fault happens, and compares the breach ids seen on ``sla.breaches`` with the
offline replay of the same records (the oracle that equals a clean live run,
see test_replay_matches_live): the same set, and no id twice.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import orjson

from stream_sla.replay import read_events, replay
from stream_sla.simulation import SimRecord, SimulationPlan, simulate
from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import Policy

from ..conftest import KAFKA_SCRIPT
from .conftest import OwnBroker
from .harness import Harness, now_ms, values, wait_for

TARGET_MS = 3_000
WORKER = {"first_touch_within": f"{TARGET_MS}ms", "session_timeout_seconds": 6}


def stream(leads: int, rate: float, seed: int) -> list[SimRecord]:
    plan = SimulationPlan(
        leads=leads,
        start_ms=now_ms(),
        leads_per_second=rate,
        first_touch_target_ms=TARGET_MS,
        seed=seed,
    )
    return list(simulate(plan))


def expected_breach_ids(records: list[SimRecord], until: int) -> set[str]:
    typed = [orjson.dumps({"type": r.kind.value, **orjson.loads(r.value)}) for r in records]
    policy = Policy().with_first_touch(TARGET_MS, 0.75)
    result = replay(read_events(typed, Counter()), policy, until=until, keep_effects=True)
    return {
        e.id
        for e in result.effects
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    }


async def wait_past_deadlines(records: list[SimRecord], margin_s: float = 3.0) -> None:
    last_deadline = max(r.at for r in records) + TARGET_MS
    await asyncio.sleep(max(0.0, (last_deadline - now_ms()) / 1000) + margin_s)


async def live_breach_ids(
    harness: Harness,
    expected: set[str],
    timeout: float,  # noqa: ASYNC109
) -> list[str]:
    records = await harness.consume(
        "sla.breaches",
        until=lambda rs: {v["id"] for v in values(rs)} >= expected,
        timeout=timeout,
        settle=2.0,
    )
    return [v["id"] for v in values(records)]


def assert_same_breaches(seen: list[str], expected: set[str]) -> None:
    duplicated = [i for i, n in Counter(seen).items() if n > 1]
    assert not duplicated, f"breach ids seen twice: {duplicated}"
    assert set(seen) == expected, (
        f"missing {len(expected - set(seen))}, unexpected {len(set(seen) - expected)}"
    )


def crm(records: list[SimRecord]) -> list[tuple[EventKind | str, str | bytes | None, bytes]]:
    return [(r.kind, r.key, r.value) for r in records]


async def test_kill_9_mid_stream_then_restart_loses_and_repeats_nothing(harness: Harness) -> None:
    worker = harness.start_worker("w1", **WORKER)
    worker.wait_ready()
    records = stream(leads=150, rate=15, seed=21)
    await harness.produce(crm(records), batched=True)
    await asyncio.sleep(5)  # some deadlines have fired, most are still to come
    worker.stop(signal.SIGKILL)

    restarted_at = time.monotonic()
    again = harness.start_worker("w1", **WORKER)  # same state folder and consumer group
    ready_s = again.wait_ready()
    await wait_past_deadlines(records)
    expected = expected_breach_ids(records, now_ms())
    seen = await live_breach_ids(harness, expected, timeout=30)
    print(
        f"\nkill -9: expected {len(expected)}, seen {len(set(seen))}, "
        f"duplicated {len(seen) - len(set(seen))}, ready {ready_s:.1f}s after restart, "
        f"all breaches {time.monotonic() - restarted_at:.1f}s after restart"
    )
    assert_same_breaches(seen, expected)


async def test_rebalance_one_two_one_workers_keeps_every_breach_once(harness: Harness) -> None:
    first = harness.start_worker("w1", **WORKER)
    first.wait_ready()
    records = stream(leads=150, rate=12, seed=22)
    await harness.produce(crm(records), batched=True)
    await asyncio.sleep(2)
    second = harness.start_worker("w2", **WORKER)
    joined_s = second.wait_ready()
    await asyncio.sleep(3)  # both own partitions and fire deadlines
    assert second.stop(signal.SIGTERM, timeout=30) == 0, second.log_tail()
    await wait_past_deadlines(records)
    expected = expected_breach_ids(records, now_ms())
    seen = await live_breach_ids(harness, expected, timeout=30)
    print(
        f"\nrebalance 1->2->1: expected {len(expected)}, seen {len(set(seen))}, "
        f"duplicated {len(seen) - len(set(seen))}, second worker ready after {joined_s:.1f}s"
    )
    assert_same_breaches(seen, expected)


async def broker_command(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return await asyncio.to_thread(
        subprocess.run, ["bash", str(KAFKA_SCRIPT), action], env=env, capture_output=True
    )


async def test_broker_restart_while_the_worker_runs(own_broker: OwnBroker, tmp_path: Path) -> None:
    env = own_broker.env
    harness = Harness(own_broker.bootstrap, tmp_path)
    await harness.create_topics()
    try:
        worker = harness.start_worker("w1", **WORKER)
        worker.wait_ready()
        records = stream(leads=120, rate=12, seed=23)
        await harness.produce(crm(records), batched=True)
        await asyncio.sleep(4)
        down = await broker_command("stop", env)
        assert down.returncode == 0
        await asyncio.sleep(3)  # deadlines pass while the broker is away
        back_at = time.monotonic()
        up = await broker_command("start", env)
        assert up.returncode == 0, up.stdout + up.stderr
        broker_s = time.monotonic() - back_at
        await wait_past_deadlines(records)
        expected = expected_breach_ids(records, now_ms())
        seen = await live_breach_ids(harness, expected, timeout=60)
        assert worker.process.poll() is None, f"worker died:\n{worker.log_tail()}"
        print(
            f"\nbroker restart: expected {len(expected)}, seen {len(set(seen))}, "
            f"duplicated {len(seen) - len(set(seen))}, broker back in {broker_s:.1f}s"
        )
        assert_same_breaches(seen, expected)
    finally:
        harness.stop_all()


MALFORMED = [
    b"{not json",
    b"[1, 2, 3]",
    b'{"lead_id": "X", "occurred_at": "2026-11-02T14:00:00Z"}',
    b'{"event_id": 7, "lead_id": "X", "occurred_at": "2026-11-02T14:00:00Z"}',
    b'{"event_id": "e", "lead_id": "X", "occurred_at": "2026-11-02 14:00"}',
    b'{"event_id": "e", "lead_id": "X", "occurred_at": "2026-11-02T14:00:00"}',
    b'{"event_id": "e", "lead_id": "X", "occurred_at": "2099-01-01T00:00:00Z", "owner": "a",'
    b' "team": "t", "source": "s", "channel": "call", "outcome": "sent", "status": "won"}',
    b'{"event_id": "e", "lead_id": "X", "occurred_at": "2001-01-01T00:00:00Z", "owner": "a",'
    b' "team": "t", "source": "s", "channel": "call", "outcome": "sent", "status": "won"}',
    b'{"event_id": "e", "lead_id": "not-the-key", "occurred_at": "2026-11-02T14:00:00Z"}',
    b"\xff\xfe\x00binary",
]


async def test_burst_of_10000_malformed_events_is_dead_lettered_and_stalls_nothing(
    harness: Harness,
) -> None:
    worker = harness.start_worker("w1", **WORKER)
    worker.wait_ready()
    records = stream(leads=100, rate=20, seed=24)
    kinds = list(EventKind)
    bad: list[tuple[EventKind | str, str | bytes | None, bytes]] = [
        (kinds[i % 4], "X", MALFORMED[i % len(MALFORMED)]) for i in range(10_000)
    ]
    mixed: list[tuple[EventKind | str, str | bytes | None, bytes]] = []
    valid = crm(records)
    for i, item in enumerate(bad):
        mixed.append(item)
        if i % 22 == 0 and valid:
            mixed.append(valid.pop(0))
    mixed.extend(valid)
    produced_at = time.monotonic()
    await harness.produce(mixed, batched=True)

    def all_consumed() -> bool:
        m = worker.metrics()
        crm_topics = [harness.catalog.name(s.name) for s in harness.catalog.crm().values()]
        total = sum(m.get("stream_sla_events_consumed_total", topic=t) or 0 for t in crm_topics)
        return total >= len(mixed)

    assert await wait_for(all_consumed, timeout=60), worker.log_tail()
    drained_s = time.monotonic() - produced_at

    dead = await harness.consume("sla.dead-letter", until=lambda r: len(r) >= 10_000, timeout=30)
    reasons = Counter(dict(r.headers)["stream-sla.reason"].decode() for r in dead)
    assert len(dead) == 10_000, reasons
    assert set(reasons) >= {
        "invalid_json",
        "not_an_object",
        "missing_field",
        "wrong_type",
        "bad_timestamp",
        "too_far_in_future",
        "too_late",
        "key_mismatch",
    }
    await wait_past_deadlines(records)
    expected = expected_breach_ids(records, now_ms())
    seen = await live_breach_ids(harness, expected, timeout=30)
    print(
        f"\nmalformed burst: 10000 dead-lettered {dict(reasons)}; {len(mixed)} records drained"
        f" in {drained_s:.1f}s; breaches expected {len(expected)}, seen {len(set(seen))}"
    )
    assert_same_breaches(seen, expected)
