"""What the committed offsets imply, read back from the broker and worked out without Kafka.

The exactly-once fault tests use it to check a worker after recovery against the engine
alone: the CRM input up to the group's committed offsets, replayed through
:class:`~stream_sla.sla.engine.SlaEngine` (its public interface, as the worker drives it),
must give the same lead states as the ``sla.lead-state`` changelog read ``read_committed``
(its compacted view: the newest row per key, a tombstone deletes). And breaches are counted
per (lead, rule, hand-off cycle), not by id, so deterministic ids cannot hide a duplicate.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from stream_sla.sla.effects import Severity, SlaViolation
from stream_sla.sla.emitted import Sent, Skipped
from stream_sla.sla.engine import SlaEngine
from stream_sla.sla.events import EventKind
from stream_sla.sla.policy import Policy
from stream_sla.sla.snapshot import load_header, load_state
from stream_sla.sla.timestamps import format_ms

from .harness import Harness, now_ms, values

Cycle = tuple[str, str, str]
"""(lead id, rule, handed_at): one rule of one hand-off cycle of one lead."""


async def committed_offsets(harness: Harness) -> dict[TopicPartition, int]:
    """The worker group's committed next offset of every CRM topic-partition (0: none)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=harness.bootstrap, group_id=harness.app_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        offsets = {}
        for tp in crm_partitions(harness):
            offsets[tp] = await consumer.committed(tp) or 0
        return offsets
    finally:
        await consumer.stop()


def crm_partitions(harness: Harness) -> list[TopicPartition]:
    catalog = harness.catalog
    return [
        TopicPartition(catalog.name(spec.name), p)
        for spec in catalog.crm().values()
        for p in range(spec.partitions)
    ]


async def read_until(
    harness: Harness, tps: list[TopicPartition], ends: dict[TopicPartition, int] | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of ``tps``, read_committed, below each end offset (default: the last stable
    offsets, where a read_committed reader ends)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=harness.bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        if ends is None:
            ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        remaining = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, rows in batch.items():
                records.extend(r for r in rows if r.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


async def changelog_view(harness: Harness) -> dict[str, bytes]:
    """``sla.lead-state`` read read_committed as compaction would leave it."""
    rows: dict[str, bytes] = {}
    topic, spec = harness.catalog.lead_state, harness.catalog.spec("sla.lead-state")
    tps = [TopicPartition(topic, p) for p in range(spec.partitions)]
    for r in await read_until(harness, tps):
        key = (r.key or b"").decode()
        if r.value is None:
            rows.pop(key, None)
        else:
            rows[key] = r.value
    return rows


def replayed(
    harness: Harness, records: list[ConsumerRecord[bytes, bytes]], policy: Policy
) -> tuple[dict[str, bytes], set[Cycle]]:
    """The lead state rows and the breached cycles the engine gives for ``records`` (in
    offset order per partition) applied now, then every deadline due by now fired."""
    kinds = {harness.catalog.name(spec.name): kind for kind, spec in harness.catalog.crm().items()}
    engine: SlaEngine[Any] = SlaEngine(policy)
    now = now_ms()
    ordered = sorted(records, key=lambda r: (r.partition, r.topic, r.offset))
    typed: list[tuple[EventKind, Any]] = [(kinds[r.topic], r) for r in ordered]
    effects = list(engine.apply(typed, now).effects)
    while due := engine.pop_due(now):
        effects += engine.fire(due, now).effects
    rows = {
        lead: row for partition in engine.partitions for lead, row in engine.lead_rows(partition)
    }
    breached = {
        (e.lead_id, e.rule.value, format_ms(e.cycle_started_at))
        for e in effects
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    }
    return rows, breached


def verdicts(lead_id: str, row: bytes) -> tuple[Any, ...]:
    """What a state row says for good: its wake-up, facts and emitted keys, without the
    warnings. A warning is a reminder the worker may skip as moot when its timer looked after
    the deadline too (README, Replay), where a replay at event time sends it."""
    state = load_state(lead_id, row)
    wake_at, _ = load_header(row)
    kept = {
        key
        for key in state.emitted
        if not (isinstance(key, Sent | Skipped) and key.severity is Severity.WARNING)
    }
    return (wake_at, state.profile, state.handoffs, state.attempts, state.statuses, kept)


def breach_cycles(records: list[ConsumerRecord[bytes, bytes]]) -> Counter[Cycle]:
    """Breach records per (lead, rule, handed_at); retractions are not breaches."""
    return Counter(
        (v["lead_id"], v["rule"], v["handed_at"])
        for v in values(records)
        if v.get("severity") == "breach" and "retracts" not in v
    )


async def assert_state_is_what_the_committed_offsets_imply(
    harness: Harness,
    policy: Policy,
    breaches: list[ConsumerRecord[bytes, bytes]],
    once: bool = True,
) -> str:
    """The changelog's lead states equal the engine's over the committed input, and each
    breached cycle is on ``breaches`` (exactly once unless not ``once``: at-least-once may
    repeat one after a crash). Returns a line for the test's output."""
    offsets = await committed_offsets(harness)
    assert sum(offsets.values()) > 0, "nothing committed: the comparison would be empty"
    rows, expected_cycles = replayed(
        harness, await read_until(harness, list(offsets), offsets), policy
    )
    live = await changelog_view(harness)
    assert live, "the changelog read back empty (read_committed): nothing to compare"
    mismatched = sorted(
        lead
        for lead in set(rows) | set(live)
        if lead not in rows
        or lead not in live
        or verdicts(lead, rows[lead]) != verdicts(lead, live[lead])
    )
    assert not mismatched, (
        f"{len(mismatched)} of {len(rows)} leads differ ({len(live)} in the changelog),"
        f" e.g. {mismatched[0]}:\n"
        f"replayed {rows.get(mismatched[0])!r}\nlive     {live.get(mismatched[0])!r}"
    )
    counted = breach_cycles(breaches)
    twice = {cycle: n for cycle, n in counted.items() if n > 1}
    assert not (once and twice), f"breached cycles published more than once: {twice}"
    assert set(counted) == expected_cycles, (
        f"missing {sorted(expected_cycles - set(counted))[:3]},"
        f" unexpected {sorted(set(counted) - expected_cycles)[:3]}"
    )
    return (
        f"state of {len(rows)} leads equals the replay of {sum(offsets.values())} committed"
        f" records; {len(counted)} breached cycles, {len(twice)} of them more than once"
    )
