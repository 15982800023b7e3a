"""Replaying a stream offline gives exactly the breaches the live worker emitted for it.

The records are produced in one batch (record by record, a loaded machine can publish an
attempt after its deadline, which live then retracts); live breaches are compared as the
README tells consumers to read them: the newest record per breach id.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord

from stream_sla import cli
from stream_sla.policy_file import load_policy
from stream_sla.replay import ReplayResult, read_events, replay
from stream_sla.simulation import SimulationPlan, simulate
from stream_sla.sla.effects import Rule, Severity, SlaViolation, effect_id
from stream_sla.sla.engine import Retention
from stream_sla.sla.events import EventKind, parse_timestamp
from stream_sla.sla.policy import Policy
from stream_sla.sla.timestamps import format_ms

from .harness import Harness, crm_event, effective_breach_ids, now_ms, values

TARGET_MS = 3_000
WHEN_NOTICED = ("detected_at", "late_by_seconds")
"""The live worker stamps the moment its deadline timer noticed; the replay the deadline."""


async def replayed_and_live(
    harness: Harness, offline: ReplayResult
) -> tuple[set[str], list[ConsumerRecord[bytes, bytes]]]:
    """The replay's breach ids, and sla.breaches once every one of them is in effect live."""
    replayed = {
        e.id
        for e in offline.effects
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    }
    live = await harness.consume(
        "sla.breaches",
        until=lambda r: effective_breach_ids(r) >= replayed,
        timeout=30,
        settle=3.0,
    )
    return replayed, live


async def test_replay_of_the_same_events_reproduces_the_live_breach_ids_and_records(
    harness: Harness, tmp_path: Path
) -> None:
    worker = harness.start_worker(first_touch_within=f"{TARGET_MS}ms")
    worker.wait_ready()
    plan = SimulationPlan(
        leads=60, start_ms=now_ms(), leads_per_second=30, first_touch_target_ms=TARGET_MS, seed=11
    )
    records = list(simulate(plan))
    await harness.produce([(r.kind, r.key, r.value) for r in records], batched=True)

    last_deadline = max(r.at for r in records) + TARGET_MS
    await asyncio.sleep(max(0.0, (last_deadline - now_ms()) / 1000) + 2)

    typed = [orjson.dumps({"type": r.kind.value, **orjson.loads(r.value)}) for r in records]
    policy = Policy().with_first_touch(TARGET_MS, 0.75)
    offline = replay(read_events(typed, Counter()), policy, until=now_ms(), keep_effects=True)
    replayed, live = await replayed_and_live(harness, offline)
    live_ids = [v["id"] for v in values(live) if "severity" in v]
    assert len(live_ids) == len(set(live_ids)), "no breach id twice"
    assert effective_breach_ids(live) == replayed
    assert len(replayed) >= 10, "the plan leaves a fair share of leads uncontacted or late"

    # `replay --violations-out` writes the records the worker published, field for field
    events_file, out = tmp_path / "events.jsonl", tmp_path / "violations.jsonl"
    events_file.write_bytes(b"".join(line + b"\n" for line in typed))
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"first_touch_within: {TARGET_MS}ms\nfirst_touch_warn_at: 0.75\n")
    until = format_ms(now_ms())
    argv = ["replay", str(events_file), "--config", str(settings), "--until", until]
    assert cli.main([*argv, "--format", "json", "--violations-out", str(out)]) == 0
    written = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    warnings = await harness.consume("sla.warnings", until=lambda _: False, timeout=3)
    published = values(live) + values(warnings)

    def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {r["id"]: {k: v for k, v in r.items() if k not in WHEN_NOTICED} for r in records}

    replay_records, live_records = by_id(written), by_id(published)
    breaches = {k: v for k, v in replay_records.items() if v["severity"] == "breach"}
    assert breaches == {k: v for k, v in live_records.items() if v["severity"] == "breach"}
    # Warnings: every one the worker sent is in the file, field for field. The file may hold
    # more: the replay looks exactly at the warning time, the worker's timer later (a tick,
    # more under load), and `LeadState.take_due` drops a reminder that is moot by then: its promise
    # kept in between, or its breach deadline already passed (the breach went out instead).
    assert {k: replay_records.get(k) for k in live_records} == live_records
    first_attempt: dict[str, str] = {}
    for line in typed:
        event = orjson.loads(line)
        if event["type"] == "contact-attempt":
            lead = event["lead_id"]
            first_attempt[lead] = min(first_attempt.get(lead, "~"), event["occurred_at"])
    live_breached = {(r["lead_id"], r["rule"]) for r in breaches.values()}
    for key in replay_records.keys() - live_records.keys():
        record = next(r for r in written if r["id"] == key)
        assert record["severity"] == "warning"
        kept = first_attempt.get(record["lead_id"], "~")
        moot = record["detected_at"] <= kept <= record["deadline_at"]
        assert moot or (record["lead_id"], record["rule"]) in live_breached, record
    assert any(r["severity"] == "warning" for r in live_records.values())


async def test_replay_with_the_workers_retention_matches_live_through_late_data_and_eviction(
    harness: Harness,
) -> None:
    """Re-assignments, a late earlier hand-off and a late attempt (both retract a published
    breach live), and a lead closed, evicted and handed again: the breaches in effect live
    are the ones the same engine replays in event time with the worker's retention."""
    handed, attempt, status = (
        EventKind.HANDED_TO_SALES,
        EventKind.CONTACT_ATTEMPT,
        EventKind.LEAD_STATUS_CHANGED,
    )
    retention_ms = 2_000
    worker = harness.start_worker(
        first_touch_within=f"{TARGET_MS}ms", closed_lead_retention=f"{retention_ms}ms"
    )
    worker.wait_ready()
    t0 = now_ms()
    sent: list[tuple[EventKind, str, bytes]] = []

    async def produce(*records: tuple[EventKind, str, bytes]) -> None:
        sent.extend(records)
        await harness.produce(list(records))

    call = {"channel": "call", "outcome": "no_answer"}
    await produce(
        crm_event(handed, "L-reassigned", "ra-1", t0, owner="ana", team="t"),
        crm_event(handed, "L-reassigned", "ra-2", t0 + 500, owner="bo", team="t"),
        crm_event(handed, "L-moved", "mv-2", t0 + 1_000, owner="ana", team="t"),
        crm_event(handed, "L-met-late", "ml-1", t0, owner="ana", team="t"),
        crm_event(handed, "L-evicted", "ev-1", t0, owner="ana", team="t"),
        crm_event(status, "L-evicted", "ev-2", t0 + 200, status="disqualified"),
    )
    moved = effect_id("L-moved", Rule.FIRST_TOUCH, Severity.BREACH, t0 + 1_000)
    met_late = effect_id("L-met-late", Rule.FIRST_TOUCH, Severity.BREACH, t0)
    await harness.consume(
        "sla.breaches",
        until=lambda r: {moved, met_late} <= effective_breach_ids(r),
        timeout=30,
    )
    # late data: an earlier hand-off and an attempt made before the deadline, both after it;
    # the evicted lead (closed for more than the retention) is handed again
    await produce(
        crm_event(handed, "L-moved", "mv-1", t0 + 900, owner="ana", team="t"),
        crm_event(attempt, "L-met-late", "ml-2", t0 + 2_000, **call),
        crm_event(handed, "L-evicted", "ev-3", now_ms(), owner="bo", team="t"),
    )
    last_deadline = now_ms() + TARGET_MS
    await asyncio.sleep(max(0.0, (last_deadline - now_ms()) / 1000) + 2)

    typed = [orjson.dumps({"type": kind.value, **orjson.loads(value)}) for kind, _, value in sent]
    policy = Policy().with_first_touch(TARGET_MS, 0.75)
    offline = replay(
        read_events(typed, Counter()),
        policy,
        until=now_ms(),
        keep_effects=True,
        retention=Retention(closed_ms=retention_ms),
        partitions=harness.catalog.lead_partitions(),
    )
    replayed, live = await replayed_and_live(harness, offline)
    retracted = {v["retracts"] for v in values(live) if "retracts" in v}
    assert {moved, met_late} <= retracted, "live published both, then withdrew them"
    assert effective_breach_ids(live) == replayed
    again = effect_id("L-evicted", Rule.FIRST_TOUCH, Severity.BREACH, t_of(sent[-1]))
    assert again in replayed, "the lead handed again after its eviction breaches afresh"
    evicted = worker.metrics().get("stream_sla_evicted_leads_total")
    assert evicted is not None and evicted >= 1


def t_of(record: tuple[EventKind, str, bytes]) -> int:
    return parse_timestamp(orjson.loads(record[2])["occurred_at"], "occurred_at")


def same_breach_records(
    offline: ReplayResult, live: list[ConsumerRecord[bytes, bytes]], replayed: set[str]
) -> dict[str, dict[str, Any]]:
    """The live breach records, asserted field for field equal to the replayed ones."""
    offline_records = {
        e.id: {k: v for k, v in e.to_record().items() if k not in WHEN_NOTICED}
        for e in offline.effects
        if isinstance(e, SlaViolation) and e.severity is Severity.BREACH
    }
    live_records = {
        v["id"]: {k: x for k, x in v.items() if k not in WHEN_NOTICED}
        for v in values(live)
        if v.get("severity") == "breach" and v["id"] in replayed
    }
    assert live_records == offline_records
    return live_records


PAUSING_POLICY = """\
version: "pause-1"
segments:
  - name: default
    first_touch: {within: 3s, warn_at: off, pause_on: [waiting_on_prospect, meeting_booked]}
    attempts: off
    disposition: off
"""


async def test_replay_matches_live_for_clocks_paused_on_status(
    harness: Harness, tmp_path: Path
) -> None:
    """Pause on status, live and replayed alike: a pause that pushes the deadline (the breach
    reports the time paused), a lead still waiting (no breach), and a late pausing status
    that withdraws a breach already published (retracted, paused_late)."""
    handed, status = EventKind.HANDED_TO_SALES, EventKind.LEAD_STATUS_CHANGED
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(PAUSING_POLICY)
    worker = harness.start_worker(policy_file=str(policy_file))
    worker.wait_ready()
    t0 = now_ms()
    sent: list[tuple[EventKind, str, bytes]] = []

    async def produce(*records: tuple[EventKind, str, bytes]) -> None:
        sent.extend(records)
        await harness.produce(list(records), batched=True)

    await produce(
        crm_event(handed, "L-paused", "p-1", t0, owner="ana", team="t"),
        crm_event(status, "L-paused", "p-2", t0 + 500, status="waiting_on_prospect"),
        crm_event(status, "L-paused", "p-3", t0 + 2_500, status="accepted"),
        crm_event(handed, "L-waiting", "w-1", t0, owner="ana", team="t"),
        crm_event(status, "L-waiting", "w-2", t0 + 100, status="meeting_booked"),
        crm_event(handed, "L-plain", "n-1", t0, owner="bo", team="t"),
        crm_event(handed, "L-late-pause", "lp-1", t0, owner="bo", team="t"),
    )
    late = effect_id("L-late-pause", Rule.FIRST_TOUCH, Severity.BREACH, t0)
    await harness.consume(
        "sla.breaches", until=lambda r: late in effective_breach_ids(r), timeout=30
    )
    await produce(crm_event(status, "L-late-pause", "lp-2", t0 + 1_000, status="meeting_booked"))
    await asyncio.sleep(max(0.0, (t0 + 5_000 - now_ms()) / 1000) + 2)

    typed = [orjson.dumps({"type": kind.value, **orjson.loads(value)}) for kind, _, value in sent]
    policy = load_policy(policy_file)
    offline = replay(read_events(typed, Counter()), policy, until=now_ms(), keep_effects=True)
    replayed, live = await replayed_and_live(harness, offline)
    assert effective_breach_ids(live) == replayed
    retractions = [v for v in values(live) if "retracts" in v]
    assert [(r["retracts"], r["reason"]) for r in retractions] == [(late, "paused_late")]
    paused = effect_id("L-paused", Rule.FIRST_TOUCH, Severity.BREACH, t0)
    plain = effect_id("L-plain", Rule.FIRST_TOUCH, Severity.BREACH, t0)
    assert replayed == {paused, plain}
    live_records = same_breach_records(offline, live, replayed)
    assert live_records[paused]["paused_seconds"] == 2
    assert live_records[paused]["deadline_at"] == format_ms(t0 + 5_000)
    assert live_records[plain]["paused_seconds"] == 0


TOUCHES_POLICY = """\
version: "touches-1"
segments:
  - name: default
    first_touch: {within: 3s, warn_at: off, touches: {min_call_duration: 30s}}
    attempts: off
    disposition: off
"""


async def test_replay_matches_live_for_qualifying_touches(harness: Harness, tmp_path: Path) -> None:
    """Only qualifying touches meet the rule, live and replayed alike: an automated sequence
    email and a 10 s call do not (their breaches report them), a 60 s call and a rep's email do."""
    handed, attempt = EventKind.HANDED_TO_SALES, EventKind.CONTACT_ATTEMPT
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(TOUCHES_POLICY)
    worker = harness.start_worker(policy_file=str(policy_file))
    worker.wait_ready()
    t0 = now_ms()
    email = {"channel": "email", "outcome": "sent"}
    call = {"channel": "call", "outcome": "connected"}
    sent = [
        crm_event(handed, "L-auto", "au-1", t0, owner="ana", team="t"),
        crm_event(attempt, "L-auto", "au-2", t0 + 500, automated=True, **email),
        crm_event(handed, "L-short", "sh-1", t0, owner="ana", team="t"),
        crm_event(attempt, "L-short", "sh-2", t0 + 500, duration_seconds=10, **call),
        crm_event(handed, "L-long", "lo-1", t0, owner="bo", team="t"),
        crm_event(attempt, "L-long", "lo-2", t0 + 500, duration_seconds=60, **call),
        crm_event(handed, "L-email", "em-1", t0, owner="bo", team="t"),
        crm_event(attempt, "L-email", "em-2", t0 + 500, automated=False, **email),
    ]
    await harness.produce(list(sent), batched=True)
    await asyncio.sleep(max(0.0, (t0 + 3_000 - now_ms()) / 1000) + 2)

    typed = [orjson.dumps({"type": kind.value, **orjson.loads(value)}) for kind, _, value in sent]
    offline = replay(
        read_events(typed, Counter()), load_policy(policy_file), until=now_ms(), keep_effects=True
    )
    replayed, live = await replayed_and_live(harness, offline)
    assert effective_breach_ids(live) == replayed
    expected = {
        effect_id(lead, Rule.FIRST_TOUCH, Severity.BREACH, t0) for lead in ("L-auto", "L-short")
    }
    assert replayed == expected
    live_records = same_breach_records(offline, live, replayed)
    assert {r["non_qualifying_attempts"] for r in live_records.values()} == {1}
