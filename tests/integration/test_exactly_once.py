"""Exactly-once outputs (``exactly_once=true``) on the real broker, read with read_committed.

Every expected breach is seen exactly once by a ``read_committed`` reader across a kill -9,
and a stale worker whose partitions' transactional ids were taken by a new owner is fenced:
nothing it processes after the fence becomes visible, and the new owner emits each breach once.
No assertion relies on deterministic ids: breaches are counted per lead. The rebalance
mid-burst also runs at-least-once (``exactly_once=false``), where a rebalance, not being a
crash, must not repeat a breach either.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter

import pytest

from stream_sla.config import Settings
from stream_sla.sla.events import EventKind
from stream_sla.stream.transactions import PartitionProducers

from .committed_state import assert_state_is_what_the_committed_offsets_imply, breach_cycles
from .harness import Harness, crm_event, now_ms, values

TARGET_MS = 3_000
EOS = {"exactly_once": "true", "first_touch_within": f"{TARGET_MS}ms"}


async def handed(harness: Harness, prefix: str, count: int) -> set[str]:
    t0 = now_ms()
    leads = {f"{prefix}-{i}" for i in range(count)}
    await harness.produce(
        [
            crm_event(EventKind.HANDED_TO_SALES, lead, f"h-{lead}", t0, owner="ana", team="t")
            for lead in sorted(leads)
        ],
        batched=True,
    )
    return leads


def per_lead(records: list) -> Counter[str]:  # type: ignore[type-arg]
    return Counter(v["lead_id"] for v in values(records) if "retracts" not in v)


async def test_breaches_are_committed_exactly_once_across_a_kill_9(harness: Harness) -> None:
    worker = harness.start_worker(**EOS)
    worker.wait_ready()
    first = await handed(harness, "K", 40)
    await harness.consume(
        "sla.breaches",
        until=lambda r: set(per_lead(r)) >= first,
        timeout=40,
        isolation_level="read_committed",
    )
    worker.stop(signal.SIGKILL)
    second = await handed(harness, "R", 40)  # processed by the restarted worker
    harness.start_worker(**EOS).wait_ready()
    records = await harness.consume(
        "sla.breaches",
        until=lambda r: set(per_lead(r)) >= first | second,
        timeout=60,
        settle=6,
        isolation_level="read_committed",
    )
    counts = per_lead(records)
    assert set(counts) == first | second
    assert all(n == 1 for n in counts.values()), {k: n for k, n in counts.items() if n > 1}


async def test_a_stale_worker_is_fenced_once_its_partitions_transactional_ids_move(
    harness: Harness,
) -> None:
    stale = harness.start_worker(**EOS)
    stale.wait_ready()
    # The new owner's first step for each partition (see PartitionProducers.gain): its
    # producer's init_transactions, which fences every earlier producer of that id.
    settings = Settings(
        kafka_bootstrap_servers=harness.bootstrap,
        app_id=harness.app_id,
        topic_prefix=harness.prefix,
    )
    owner = PartitionProducers(settings)
    await owner.gain(range(harness.catalog.lead_partitions()))
    try:
        leads = await handed(harness, "F", 30)
        exited = None
        for _ in range(300):
            exited = stale.process.poll()
            if exited is not None:
                break
            await asyncio.sleep(0.1)
        assert exited == 75, stale.log_tail()
        assert "fenced" in stale.log_tail()
        nothing = await harness.consume(
            "sla.breaches", until=lambda r: False, timeout=6, isolation_level="read_committed"
        )
        assert not per_lead(nothing) & Counter(leads), "a fenced worker's batch became visible"
    finally:
        await owner.drop(range(harness.catalog.lead_partitions()))
    harness.start_worker(name="w2", **EOS).wait_ready()
    records = await harness.consume(
        "sla.breaches",
        until=lambda r: set(per_lead(r)) >= leads,
        timeout=60,
        settle=6,
        isolation_level="read_committed",
    )
    counts = per_lead(records)
    assert set(counts) == leads
    assert all(n == 1 for n in counts.values()), counts


async def burst(harness: Harness, prefix: str, per_second: int, seconds: float) -> set[str]:
    """Hand-offs at a steady rate (each breaches ``TARGET_MS`` later): the worker is in the
    middle of a batch or a transaction at almost any moment."""
    leads: set[str] = set()
    started, i = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        at = now_ms()
        tick = [f"{prefix}-{i + n}" for n in range(per_second // 10)]
        i += len(tick)
        await harness.produce(
            [
                crm_event(EventKind.HANDED_TO_SALES, lead, f"h-{lead}", at, owner="ana", team="t")
                for lead in tick
            ],
            batched=True,
        )
        leads.update(tick)
        await asyncio.sleep(0.1)
    return leads


@pytest.mark.parametrize("exactly_once", [True, False], ids=["exactly-once", "at-least-once"])
async def test_a_rebalance_mid_burst_commits_no_half_batch_of_a_revoked_partition(
    harness: Harness, exactly_once: bool
) -> None:
    """1 -> 2 workers while input flows: each revocation waits for the transaction (or the
    delivery) in flight, and a batch read before it is not applied after it. Every hand-off
    breaches exactly once (read_committed, counted per lead, rule and cycle; at-least-once
    too, since a rebalance is not a crash), and the state equals the committed input's
    replay."""
    settings = {**EOS, "session_timeout_seconds": 6, "exactly_once": str(exactly_once).lower()}
    first = harness.start_worker("w1", **settings)
    first.wait_ready()
    producing = asyncio.ensure_future(burst(harness, "B", per_second=200, seconds=20))
    await asyncio.sleep(5)
    second = harness.start_worker("w2", **settings)
    await asyncio.to_thread(second.wait_ready)
    assert not producing.done(), "the burst ended before the rebalance: nothing was tested"
    leads = await producing
    records = await harness.consume(
        "sla.breaches",
        until=lambda r: {lead for lead, _, _ in breach_cycles(r)} >= leads,
        timeout=90,
        settle=6,
        isolation_level="read_committed",
    )
    revocations = re.findall(r"partitions revoked .*", first.log_tail(400))
    print(
        f"\n1 -> 2 mid-burst, exactly_once={exactly_once}: {len(leads)} hand-offs;"
        f" w1: {revocations}"
    )
    assert revocations, first.log_tail()
    counted = breach_cycles(records)
    assert {lead for lead, _, _ in counted} == leads
    assert all(n == 1 for n in counted.values()), {c: n for c, n in counted.items() if n > 1}
    policy = Settings(first_touch_within=f"{TARGET_MS}ms").policy()  # type: ignore[arg-type]
    print(await assert_state_is_what_the_committed_offsets_imply(harness, policy, records))
    assert first.process.poll() is None and second.process.poll() is None
