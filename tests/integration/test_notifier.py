"""The notifier as a real process on the real broker, with a real SMTP server and the local
vendor server: kill -9 mid-burst loses nothing, and repeats carry the same idempotency keys;
strikes reach sla.strikes; a held reminder is dropped when the lead state shows it met."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from stream_sla.notify.model import Notice
from stream_sla.notify.strikes import count_strikes
from stream_sla.sla.events import Channel as ContactChannel
from stream_sla.sla.events import ContactAttempt, HandedToSales, LeadCreated
from stream_sla.sla.events import Outcome as ContactOutcome
from stream_sla.sla.lead import LeadState
from stream_sla.sla.snapshot import dump_state
from stream_sla.sla.timestamps import format_ms

from ..notify.mailbox import Mailbox, start_mail_server
from ..notify.vendors import Answer, VendorServer
from .harness import Harness, WorkerProcess, free_port, now_ms, values, wait_for

PEOPLE = """\
people:
  - {id: "100", name: Grace Hopper, team: smb-east, email: grace@example.com}
  - {id: "200", name: Ana Silva, team: smb-east, manager: "100", email: ana@example.com}
  - {id: "300", name: Ben Okafor, team: smb-east, manager: "100", email: ben@example.com}
  - {id: "400", name: Chen Wei, team: smb-east, manager: "100", email: chen@example.com}
"""

ROUTING = """\
people: people.yaml
crm_link: "https://crm.example.com/leads/{{lead_id}}"
working_hours: {hours}
rate_limit: {{messages: 1000, per: 1h}}
strikes: {{breaches: 3, within: 30d, via: [mail]}}
retry: {{attempts: 5, first_delay: 100ms, max_delay: 2s}}
channels:
  mail: {{type: smtp, host: 127.0.0.1, port: {smtp}, starttls: true, username: sla-bot,
          password_env: TEST_SMTP_PASSWORD, sender: sla@example.com, cafile: "{cafile}"}}
  hook: {{type: webhook, url: "{http}/hook", secret_env: TEST_HOOK_SECRET}}
  salesforce: {{type: salesforce_task, token_env: TEST_SF_TOKEN, instance_url: "{http}/salesforce"}}
routes:
  - {{name: breach, when: {{severity: breach}}, notify: [owner], via: [mail, hook, salesforce],
      urgent: true}}
  - {{name: escalate, when: {{severity: breach}}, notify: [manager], via: [mail], urgent: true}}
  - {{name: remind, when: {{severity: warning}}, notify: [owner], via: [hook]}}
"""

SECRETS = {
    "TEST_SMTP_PASSWORD": "smtp-pass",
    "TEST_HOOK_SECRET": "hook-secret",
    "TEST_SF_TOKEN": "00D-session",
}


@dataclass
class Services:
    vendors: VendorServer
    mailbox: Mailbox
    routing: Path


async def services(tmp_path: Path, hours: str = "null") -> tuple[Services, object]:
    vendors = VendorServer()
    await vendors.start()
    controller, mailbox, cert = start_mail_server(tmp_path, free_port())
    (tmp_path / "people.yaml").write_text(PEOPLE)
    routing = tmp_path / "notifications.yaml"
    routing.write_text(
        ROUTING.format(hours=hours, smtp=controller.port, cafile=cert, http=vendors.url(""))
    )
    return Services(vendors, mailbox, routing), controller


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Services]:
    s, controller = await services(tmp_path)
    yield s
    controller.stop()  # type: ignore[attr-defined]
    await s.vendors.stop()


def start_notifier(harness: Harness, routing: Path, name: str) -> WorkerProcess:
    port = free_port()
    log_path = harness.workdir / f"notifier-{name}.log"
    env = harness.env(data_dir=harness.workdir / "notifier-state", session_timeout_seconds=6)
    env.update(SECRETS)
    process = subprocess.Popen(
        [sys.executable, "-m", "stream_sla.cli", "notifier", "--routing", str(routing),
         "--web-port", str(port)],
        env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    notifier = WorkerProcess(process, port, log_path)
    harness.workers.append(notifier)
    return notifier


def breach(lead: str, owner: str, deadline_at: int, severity: str = "breach") -> bytes:
    return orjson.dumps(
        {
            "id": f"{lead}-{severity}",
            "severity": severity,
            "rule": "first_touch",
            "lead_id": lead,
            "handed_at": format_ms(deadline_at - 3_600_000),
            "deadline_at": format_ms(deadline_at),
            "detected_at": format_ms(deadline_at + 250),
            "late_by_seconds": 0.25,
            "target_seconds": 3600,
            "owner": owner,
            "team": "smb-east",
            "source": "web_form",
            "segment": "smb",
            "policy_segment": "default",
            "policy_version": "test-1",
        }
    )


def met_state(lead: str, handed: int) -> bytes:
    """The worker's changelog value for a lead whose first attempt came 55 min after hand-off."""
    state = LeadState(lead)
    state.add(LeadCreated(f"{lead}-0", lead, handed - 60_000, "web_form"))
    state.add(HandedToSales(f"{lead}-1", lead, handed, "200", "smb-east"))
    state.add(ContactAttempt(f"{lead}-2", lead, handed + 55 * 60_000, ContactChannel.CALL,
                             ContactOutcome.NO_ANSWER))  # fmt: skip
    return dump_state(state)


async def test_kill_9_mid_burst_loses_nothing_and_repeats_share_their_keys(
    harness: Harness, rig: Services
) -> None:
    window = 30 * 86_400_000
    base = now_ms() // window * window - 2 * 86_400_000  # one strike window, whatever today is
    owners = ("200", "300", "400")
    burst = [
        ("sla.breaches", f"L-{i:03d}", breach(f"L-{i:03d}", owners[i % 3], base + i * 60_000))
        for i in range(60)
    ]
    await harness.produce([("sla.breaches", "L-bad", b"{not json"), *burst], batched=True)
    rig.vendors.delay = 0.05  # slow enough that the kill lands mid-burst
    first = start_notifier(harness, rig.routing, "first")
    assert await wait_for(lambda: len(rig.vendors.hook_keys) >= 15, 90), first.log_tail()
    first.stop(signal.SIGKILL)
    sent_before = len(rig.vendors.hook_keys)
    assert sent_before < 60, "the kill came after the burst: nothing was tested"
    rig.vendors.delay = 0.0
    second = start_notifier(harness, rig.routing, "second")
    expected = {f"L-{i:03d}-breach.person-{owners[i % 3]}" for i in range(60)}
    assert await wait_for(lambda: rig.vendors.hook_keys >= expected, 120), second.log_tail()
    assert await wait_for(lambda: len(rig.vendors.salesforce_tasks) == 60, 30)
    mails = {
        f"<L-{i:03d}-breach.{who}@stream-sla>"
        for i in range(60)
        for who in (f"person-{owners[i % 3]}", "person-100")  # the owner and their manager
    }

    def notice_mails() -> set[str]:
        return {m for m in rig.mailbox.by_id() if not m.startswith("<strike-")}

    assert await wait_for(lambda: notice_mails() == mails, 30), sorted(notice_mails() - mails)[:5]

    # nothing lost; whatever was sent twice collapsed under its idempotency key
    assert rig.vendors.hook_keys == expected
    hook_sends = Counter(r.headers["Idempotency-Key"] for r in rig.vendors.of("webhook"))
    assert set(hook_sends) == expected and rig.vendors.problems == []
    assert len(rig.vendors.salesforce_tasks) == 60

    # strikes: 20 breaches per rep, 3 per strike -> 6 each, the same ids as a replay counts
    notices = [Notice.from_record(orjson.loads(value)) for _, _, value in burst]
    replayed = {s.id for s in count_strikes(notices, 3, 30 * 86_400_000)}
    assert len(replayed) == 18
    strikes = await harness.consume(
        "sla.strikes", lambda r: {s["id"] for s in values(r)} >= replayed, 30, settle=1.0
    )
    assert {s["id"] for s in values(strikes)} == replayed
    assert {s["manager"] for s in values(strikes)} == {"100"}

    def told() -> set[str]:  # a strike's mail follows its record on sla.strikes
        return {m.split(".")[0][len("<strike-") :] for m in rig.mailbox.by_id()
                if m.startswith("<strike-")}  # fmt: skip

    assert await wait_for(lambda: told() >= replayed, 30)
    assert told() == replayed
    dead = await harness.consume("sla.dead-letter", lambda r: len(r) >= 1, 20)
    # at-least-once: the first notifier may have dead-lettered the bad record and died before
    # committing past it, so the second one dead-letters it again; no other record is dead
    assert {(r.key, r.value, dict(r.headers)["stream-sla.reason"]) for r in dead} == {
        (b"L-bad", b"{not json", b"invalid_notice")
    }
    metrics = second.metrics()
    assert (metrics.get("stream_sla_strikes_total", team="smb-east", rep="200") or 0) >= 1
    print(
        f"\nkill -9 after {sent_before} of 60 webhooks; webhook sends {sum(hook_sends.values())}"
        f" for 60 keys; salesforce requests {len(rig.vendors.of('salesforce'))} for 60 tasks;"
        f" mails {len(rig.mailbox.messages)} for {len(rig.mailbox.by_id())} Message-IDs"
    )


async def test_held_reminder_is_dropped_when_the_lead_state_shows_it_met(
    harness: Harness, tmp_path: Path
) -> None:
    """Working hours that are never now (closed today, open tomorrow only) hold every
    reminder; the lead state the worker writes after the first attempt drops it."""
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[time.gmtime().tm_wday]
    tomorrow = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(time.gmtime().tm_wday + 1) % 7]
    assert weekday != tomorrow
    s, controller = await services(tmp_path, hours=f'{{{tomorrow}: "00:00-24:00"}}')
    try:
        handed = now_ms() - 50 * 60_000
        warnings = [
            ("sla.warnings", lead, breach(lead, "200", handed + 3_600_000, "warning"))
            for lead in ("L-met", "L-open")
        ]
        for w in warnings:  # the warning's handed_at is the hand-off below
            assert orjson.loads(w[2])["handed_at"] == format_ms(handed)
        notifier = start_notifier(harness, s.routing, "held")
        await harness.produce(warnings)

        def page() -> dict[str, object]:
            try:
                status, body = notifier.get("/notifications.json")
            except OSError:  # not listening yet
                return {}
            return orjson.loads(body) if status == 200 else {}

        assert await wait_for(lambda: page().get("held") == 2, 90), notifier.log_tail()
        await harness.produce([("sla.lead-state", "L-met", met_state("L-met", handed))])
        assert await wait_for(lambda: page().get("held") == 1, 30), notifier.log_tail()
        samples = notifier.metrics()
        assert samples.get("stream_sla_notifications_total", channel="webhook",
                           outcome="discarded") == 1  # fmt: skip
        assert s.vendors.of("webhook") == []  # nothing was sent at a closed hour

        notifier.stop(signal.SIGKILL)  # the held reminder was consumed: only the journal has it
        notifier = start_notifier(harness, s.routing, "held-again")
        assert await wait_for(lambda: page().get("held") == 1, 60), notifier.log_tail()
        assert s.vendors.of("webhook") == []

        # a state read before the warning it settles (another topic, any order): still moot
        await harness.produce([("sla.lead-state", "L-early", met_state("L-early", handed))])
        await harness.produce(
            [("sla.warnings", "L-early", breach("L-early", "200", handed + 3_600_000, "warning"))]
        )

        def dropped() -> list[object]:
            recent = page().get("recent") or []
            return [r["subject"] for r in recent if r["outcome"] == "discarded"]  # type: ignore[index, union-attr]

        assert await wait_for(lambda: "(dropped) L-early-warning" in dropped(), 30), dropped()
        assert page().get("held") == 1 and s.vendors.of("webhook") == []
    finally:
        controller.stop()  # type: ignore[attr-defined]
        await s.vendors.stop()


async def test_a_channel_that_keeps_failing_is_dead_lettered_and_the_others_deliver(
    harness: Harness, rig: Services
) -> None:
    rig.vendors.fail("webhook", *[Answer(503, b"down")] * 5)  # retry: attempts 5
    await harness.produce([("sla.breaches", "L-1", breach("L-1", "200", now_ms() - 60_000))])
    notifier = start_notifier(harness, rig.routing, "failing")
    dead = await harness.consume("sla.dead-letter", lambda r: len(r) >= 1, 90)
    assert dead, notifier.log_tail()
    headers = dict(dead[0].headers)
    assert headers["stream-sla.reason"] == b"notification_failed"
    assert headers["stream-sla.channel"] == b"hook" and headers["stream-sla.attempts"] == b"5"
    assert headers["stream-sla.detail"].startswith(b"HTTP 503")
    assert orjson.loads(dead[0].value)["violation_ids"] == ["L-1-breach"]
    assert len(rig.vendors.of("webhook")) == 5
    assert "<L-1-breach.person-200@stream-sla>" in rig.mailbox.by_id()  # mail went anyway
    assert len(rig.vendors.salesforce_tasks) == 1
    samples = notifier.metrics()
    assert samples.get("stream_sla_notifications_total", channel="webhook",
                       outcome="dead_lettered") == 1  # fmt: skip
    assert samples.get("stream_sla_notifications_total", channel="webhook",
                       outcome="retried") == 4  # fmt: skip
