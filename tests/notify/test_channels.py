"""Every channel against a real server: aiosmtpd (STARTTLS + AUTH) for mail, and a local HTTP
server that checks each request against the vendor's documented shape and answers 429/5xx
on demand (tests/notify/vendors.py names the page each handler follows)."""

from __future__ import annotations

import asyncio

from stream_sla.notify.delivery import Outcome, RetryPolicy

from .rig import Rig
from .vendors import Answer


async def test_every_vendor_gets_its_documented_request_shape(rig: Rig) -> None:
    results = await rig.dispatcher.send_all(rig.messages("warning") + rig.messages("breach"))
    assert rig.vendors.problems == []
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 8, rig.dead
    for vendor in ("slack_bot", "hubspot", "salesforce", "pipedrive", "slack_webhook", "teams",
                   "webhook"):  # fmt: skip
        assert len(rig.vendors.of(vendor)) == 1, vendor
    task = rig.vendors.of("hubspot")[0].body
    assert task["properties"]["hubspot_owner_id"] == "200"
    assert task["associations"][0]["to"]["id"] == "123456"  # a numeric lead id: the contact
    assert rig.vendors.of("slack_bot")[0].body["channel"] == "U0ANA"  # the owner's handle
    assert rig.vendors.of("pipedrive")[0].body["owner_id"] == 200
    assert rig.count("hubspot_task", "delivered") == 1


async def test_mail_goes_over_starttls_with_auth_and_the_violation_id(rig: Rig) -> None:
    [mail] = [m for m in rig.messages("warning") if m.channel == "mail"]
    [result] = await rig.dispatcher.send_all([mail])
    assert result.outcome is Outcome.DELIVERED, rig.dead
    [received] = rig.mailbox.messages
    assert rig.mailbox.tls_sessions == 1
    assert received["Message-ID"] == "<123456-first_touch-warning.person-200@stream-sla>"
    assert received["To"] == "Ana Silva <ana@example.com>"
    assert received["From"] == "SLA <sla@example.com>"
    assert received["Subject"] == "Reminder: first contact lead 123456 by 10:15"
    assert received["X-Stream-SLA-Violation"] == "123456-first_touch-warning"
    body = received.get_body().get_content()  # type: ignore[union-attr]
    assert "Deadline: Mon 02 Nov 10:15 (America/New_York), 15 min left." in body
    assert "https://crm.example.com/leads/123456" in body


async def test_a_temporary_mail_refusal_is_retried_with_the_same_message_id(rig: Rig) -> None:
    rig.mailbox.refuse.append("451 4.3.0 try again later")
    [mail] = [m for m in rig.messages("warning") if m.channel == "mail"]
    [result] = await rig.dispatcher.send_all([mail])
    assert (result.outcome, result.attempts) == (Outcome.DELIVERED, 2)
    assert list(rig.mailbox.by_id()) == ["<123456-first_touch-warning.person-200@stream-sla>"]


async def test_retry_after_of_a_429_is_honoured(rig: Rig) -> None:
    rig.vendors.fail("slack_webhook", Answer(429, b"rate_limited", {"Retry-After": "1"}))
    [room] = [m for m in rig.messages("breach") if m.channel == "slack-room"]
    [result] = await rig.dispatcher.send_all([room])
    first, second = rig.vendors.of("slack_webhook")
    assert result.outcome is Outcome.DELIVERED and result.attempts == 2
    assert 1.0 <= second.at - first.at < 1.5  # the server's 1 s, not the 50 ms backoff
    assert rig.count("slack_webhook", "retried") == 1


async def test_5xx_is_retried_then_dead_lettered_with_the_reason(rig: Rig) -> None:
    rig.vendors.fail("teams", *[Answer(503, b"unavailable")] * 4)
    [room] = [m for m in rig.messages("breach") if m.channel == "teams-room"]
    [result] = await rig.dispatcher.send_all([room])
    assert (result.outcome, result.attempts) == (Outcome.DEAD_LETTERED, 4)
    assert len(rig.vendors.of("teams")) == 4
    [(message, dead)] = rig.dead
    assert message is room and dead.reason.startswith("HTTP 503")
    assert rig.count("teams_webhook", "dead_lettered") == 1


async def test_teams_throttling_reported_in_the_body_is_retried(rig: Rig) -> None:
    rig.vendors.fail(
        "teams", Answer(200, b"Microsoft Teams endpoint returned HTTP error 429 with ContextId")
    )
    [room] = [m for m in rig.messages("breach") if m.channel == "teams-room"]
    [result] = await rig.dispatcher.send_all([room])
    assert (result.outcome, result.attempts) == (Outcome.DELIVERED, 2)


async def test_a_request_the_vendor_refuses_is_not_retried(rig: Rig) -> None:
    rig.vendors.fail("hubspot", Answer(400, b'{"status":"error","category":"VALIDATION_ERROR"}'))
    [task] = [m for m in rig.messages("warning") if m.channel == "hubspot"]
    [result] = await rig.dispatcher.send_all([task])
    assert (result.outcome, result.attempts) == (Outcome.REJECTED, 1)
    assert len(rig.dead) == 1 and "VALIDATION_ERROR" in rig.dead[0][1].reason


async def test_salesforce_request_limit_is_retried(rig: Rig) -> None:
    rig.vendors.fail(
        "salesforce", Answer(403, b'[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"..."}]')
    )
    [task] = [m for m in rig.messages("warning") if m.channel == "salesforce"]
    [result] = await rig.dispatcher.send_all([task])
    assert (result.outcome, result.attempts) == (Outcome.DELIVERED, 2)


async def test_slack_ok_false_errors_are_told_apart(rig: Rig) -> None:
    rig.vendors.fail(
        "slack_bot",
        Answer(200, b'{"ok":false,"error":"ratelimited"}', {"Content-Type": "application/json"}),
        Answer(200, b'{"ok":false,"error":"channel_not_found"}'),
    )
    [dm] = [m for m in rig.messages("warning") if m.channel == "slack-dm"]
    [result] = await rig.dispatcher.send_all([dm])
    assert (result.outcome, result.attempts) == (Outcome.REJECTED, 2)
    assert "channel_not_found" in result.reason


async def test_repeats_collapse_where_the_channel_has_an_idempotency_key(rig: Rig) -> None:
    """A crash after sending but before the acknowledgement sends again: Salesforce upserts
    the same Task, the webhook receiver sees the same Idempotency-Key, mail the same Message-ID."""
    first = rig.messages("warning") + rig.messages("breach")
    again = rig.messages("warning") + rig.messages("breach")
    await rig.dispatcher.send_all(first)
    await rig.dispatcher.send_all(again)
    assert len(rig.vendors.salesforce_tasks) == 1
    assert len(rig.vendors.of("salesforce")) == 2
    assert len(rig.vendors.hook_keys) == 1 and len(rig.vendors.of("webhook")) == 2
    assert len(rig.mailbox.by_id()) == 1 and len(rig.mailbox.messages) == 2


async def test_one_failing_channel_never_holds_up_the_others(rig: Rig) -> None:
    rig.vendors.fail("teams", *[Answer(503)] * 3)
    slow = RetryPolicy(attempts=4, first_delay=0.4, max_delay=0.4)
    rig.dispatcher.policy = slow
    started = asyncio.get_running_loop().time()
    task = asyncio.create_task(rig.dispatcher.send_all(rig.messages("breach")))
    async with asyncio.timeout(5):
        while not rig.vendors.of("webhook") or not rig.vendors.of("slack_webhook"):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    others_done = asyncio.get_running_loop().time() - started
    results = await task
    assert others_done < 0.3
    assert all(r.outcome is Outcome.DELIVERED for r in results)
    assert len(rig.vendors.of("teams")) == 4
