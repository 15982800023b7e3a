"""Issue 15 on the real broker: clocks that follow people, live and replayed alike.

One stream exercises every feature: pause on status, qualifying touches, owner availability
(an absence that pushes a deadline, one cancelled after the deadline it had pushed, an
escalation to sla.reroutes), lead-local calling hours (a deadline moved to the next window,
one left alone) and owner shares after a re-assignment. The live worker's records are those
a replay of the same records (absences included) computes, field for field but for when the
worker noticed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from stream_sla.policy_file import load_policy
from stream_sla.replay import read_events, replay
from stream_sla.sla.availability import Absence
from stream_sla.sla.effects import Rule, Severity, SlaViolation, effect_id
from stream_sla.sla.events import EventKind
from stream_sla.sla.timestamps import format_ms

from .harness import Harness, crm_event, effective_breach_ids, now_ms, values, wait_for

WHEN_NOTICED = ("detected_at", "late_by_seconds")

POLICY = """\
version: "people-1"
calling_hours:
  hours: "00:00-24:00"
  regions:
    closed: {{timezone: UTC, hours: "00:00-{closes}"}}
segments:
  - name: escalating
    match: {{team: esc}}
    first_touch: {{within: 4s, warn_at: off, owner_away: escalate, grace: 1s}}
    attempts: off
    disposition: off
  - name: default
    first_touch:
      within: 3s
      warn_at: off
      owner_away: follow_owner_hours
      pause_on: [waiting_on_prospect]
      touches: {{min_call_duration: 30s}}
    attempts: off
    disposition: off
"""


def absence(
    absence_id: str, owner: str, starts: int, ends: int, recorded: int, **more: Any
) -> tuple[str, str, bytes]:
    body = {
        "event_id": f"{absence_id}-{recorded}",
        "absence_id": absence_id,
        "owner": owner,
        "starts_at": format_ms(starts),
        "ends_at": format_ms(ends),
        "occurred_at": format_ms(recorded),
        **more,
    }
    return "crm.owner-availability", absence_id, orjson.dumps(body)


def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: {k: v for k, v in r.items() if k not in WHEN_NOTICED} for r in records}


async def test_live_equals_replay_on_a_stream_with_every_clock_that_follows_people(
    harness: Harness, tmp_path: Path
) -> None:
    handed, attempt, status, created = (
        EventKind.HANDED_TO_SALES,
        EventKind.CONTACT_ATTEMPT,
        EventKind.LEAD_STATUS_CHANGED,
        EventKind.LEAD_CREATED,
    )
    if datetime.now(UTC).hour == 0 and datetime.now(UTC).minute == 0:
        await asyncio.sleep(61)  # the "closed" calling window must close earlier today
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY.format(closes=minute.strftime("%H:%M")))
    policy = load_policy(policy_file)

    t0 = now_ms() + 4_000  # the worker is ready by then
    known_before = t0 - 10_000
    absences = [
        absence("pto-ana", "ana", t0 + 1_000, t0 + 2_000, known_before),
        absence("pto-cy", "cy", t0 - 1_000, t0 + 600_000, known_before),
        absence("pto-dee", "dee", t0 - 1_000, t0 + 600_000, known_before),
    ]
    await harness.produce(list(absences))  # before the worker: read as it starts
    worker = harness.start_worker(policy_file=str(policy_file))
    worker.wait_ready()
    await asyncio.sleep(max(0.0, (t0 - now_ms()) / 1000))

    call = {"channel": "call", "outcome": "connected"}
    crm = [
        crm_event(handed, "L-away", "aw-1", t0, owner="ana", team="t"),
        crm_event(handed, "L-cancel", "ca-1", t0, owner="cy", team="t"),
        crm_event(handed, "L-pause", "pa-1", t0, owner="bo", team="t"),
        crm_event(status, "L-pause", "pa-2", t0 + 500, status="waiting_on_prospect"),
        crm_event(status, "L-pause", "pa-3", t0 + 2_500, status="accepted"),
        crm_event(handed, "L-short", "sh-1", t0, owner="bo", team="t"),
        crm_event(attempt, "L-short", "sh-2", t0 + 500, duration_seconds=10, **call),
        crm_event(handed, "L-long", "lo-1", t0, owner="bo", team="t"),
        crm_event(attempt, "L-long", "lo-2", t0 + 500, duration_seconds=60, **call),
        crm_event(handed, "L-shared", "sd-1", t0, owner="bo", team="t"),
        crm_event(handed, "L-shared", "sd-2", t0 + 1_000, owner="eve", team="t"),
        crm_event(created, "L-calling", "cl-0", t0 - 100, source="web_form", region="closed"),
        crm_event(handed, "L-calling", "cl-1", t0, owner="bo", team="t"),
        crm_event(created, "L-local", "lc-0", t0 - 100, source="web_form", timezone="UTC"),
        crm_event(handed, "L-local", "lc-1", t0, owner="bo", team="t"),
        crm_event(handed, "L-esc", "es-1", t0, owner="dee", team="esc"),
    ]
    await harness.produce(list(crm), batched=True)
    # Cy's absence is cancelled after the deadline it had pushed out: the breach is due at once
    await asyncio.sleep(max(0.0, (t0 + 5_500 - now_ms()) / 1000))
    cancel = absence(
        "pto-cy",
        "cy",
        t0 - 1_000,
        t0 + 600_000,
        t0 + 5_500,
        cancelled=True,
        recorded_at=format_ms(known_before),
    )
    await harness.produce([cancel])
    await asyncio.sleep(max(0.0, (t0 + 6_000 - now_ms()) / 1000) + 3)

    lines = [orjson.dumps({"type": kind.value, **orjson.loads(value)}) for kind, _, value in crm]
    lines += [
        orjson.dumps({"type": "owner-availability", **orjson.loads(value)})
        for _, _, value in [*absences, cancel]
    ]
    found: list[Absence] = []
    offline = replay(
        read_events(lines, Counter(), absences=found),
        policy,
        until=now_ms(),
        keep_effects=True,
        partitions=harness.catalog.lead_partitions(),
        absences=found,
    )
    replayed = [e for e in offline.effects if isinstance(e, SlaViolation)]
    breach_ids = {e.id for e in replayed if e.severity is Severity.BREACH}
    live = await harness.consume(
        "sla.breaches", until=lambda r: effective_breach_ids(r) >= breach_ids, timeout=30, settle=3
    )
    reroutes = await harness.consume("sla.reroutes", until=lambda r: bool(r), timeout=15)

    def breach(lead: str) -> str:
        return effect_id(lead, Rule.FIRST_TOUCH, Severity.BREACH, t0)

    expected = {breach(lead) for lead in ("L-away", "L-cancel", "L-pause", "L-short")}
    expected |= {breach(lead) for lead in ("L-shared", "L-local", "L-esc")}
    assert breach_ids == expected, "L-long met it; L-calling's deadline moved to tomorrow"
    assert effective_breach_ids(live) == breach_ids
    assert not [v for v in values(live) if "retracts" in v]
    live_records = by_id([v for v in values(live) if v.get("severity") == "breach"])
    assert live_records == by_id([e.to_record() for e in replayed if e.severity is Severity.BREACH])
    live_reroutes = by_id(values(reroutes))
    assert live_reroutes == by_id(
        [e.to_record() for e in replayed if e.severity is Severity.REROUTE]
    )

    # hand-computed
    assert live_records[breach("L-away")]["deadline_at"] == format_ms(t0 + 4_000)
    assert live_records[breach("L-cancel")]["deadline_at"] == format_ms(t0 + 3_000)
    assert live_records[breach("L-pause")]["deadline_at"] == format_ms(t0 + 5_000)
    assert live_records[breach("L-pause")]["paused_seconds"] == 2
    assert live_records[breach("L-short")]["non_qualifying_attempts"] == 1
    assert live_records[breach("L-local")]["deadline_at"] == format_ms(t0 + 3_000)
    assert [
        (o["owner"], o["business_seconds"]) for o in live_records[breach("L-shared")]["owners"]
    ] == [
        ("bo", 1.0),
        ("eve", 2.0),
    ]
    [reroute] = live_reroutes.values()
    assert (reroute["lead_id"], reroute["owner"], reroute["owner_away_seconds"]) == (
        "L-esc",
        "dee",
        1,
    )
    assert reroute["deadline_at"] == format_ms(t0 + 4_000)
    moved = offline.states["L-calling"].next_deadline(policy)
    assert moved is not None and moved > t0 + 3_600_000, "to tomorrow's calling window"


ESCALATING = """\
version: "reroute-1"
segments:
  - name: default
    first_touch: {within: 30s, warn_at: off, owner_away: escalate, grace: 1s}
    attempts: off
    disposition: off
"""


async def test_a_reroute_for_an_absent_rep_reaches_the_managers_mailbox(
    harness: Harness, tmp_path: Path
) -> None:
    """Worker and notifier as processes: Ana (200) is away, a lead handed to her escalates
    after its grace, the record on sla.reroutes is routed to her manager Grace (100) by mail."""
    from .test_notifier import services, start_notifier

    rig, controller = await services(tmp_path)
    try:
        rig.routing.write_text(
            rig.routing.read_text()
            + "  - {name: reroute, when: {severity: reroute}, notify: [manager], via: [mail]}\n"
        )
        policy_file = tmp_path / "policy.yaml"
        policy_file.write_text(ESCALATING)
        t0 = now_ms() + 5_000
        await harness.produce([absence("pto-200", "200", t0 - 60_000, t0 + 600_000, t0 - 120_000)])
        worker = harness.start_worker(policy_file=str(policy_file))
        notifier = start_notifier(harness, rig.routing, "reroute")
        worker.wait_ready()
        await asyncio.sleep(max(0.0, (t0 - now_ms()) / 1000))
        handed = EventKind.HANDED_TO_SALES
        await harness.produce([crm_event(handed, "L-esc", "e-1", t0, owner="200", team="smb-east")])
        reroute_id = effect_id("L-esc", Rule.FIRST_TOUCH, Severity.REROUTE, t0)
        mail_id = f"<{reroute_id}.person-100@stream-sla>"

        mailed = await wait_for(lambda: mail_id in rig.mailbox.by_id(), 60)
        assert mailed, notifier.log_tail()
        mail = rig.mailbox.by_id()[mail_id]
        assert mail["To"] == "Grace Hopper <grace@example.com>"
        assert str(mail["Subject"]).startswith("Re-route: Ana Silva is away")
        records = values(await harness.consume("sla.reroutes", lambda r: bool(r), timeout=10))
        assert [(r["id"], r["owner"]) for r in records] == [(reroute_id, "200")]
    finally:
        controller.stop()  # type: ignore[attr-defined]
        await rig.vendors.stop()
