"""The channels test rig: the local vendor server, aiosmtpd and a dispatcher over every channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from stream_sla.notify.channels import build_channels
from stream_sla.notify.config import NotifyConfig, load_notifications
from stream_sla.notify.delivery import Attempted, RetryPolicy
from stream_sla.notify.dispatch import Dispatcher
from stream_sla.notify.metrics import NotifierMetrics
from stream_sla.notify.model import Message
from stream_sla.notify.routing import route

from ..integration.harness import free_port
from .fixtures import MONDAY_10_NY, PEOPLE, notice, write
from .mailbox import Mailbox, start_mail_server
from .vendors import VendorServer

ALL_CHANNELS = """\
crm_link: "https://crm.example.com/leads/{{lead_id}}"
teams:
  smb-east: {{name: SMB East, chat: "C0SMBEAST", email: smb-east@example.com}}
channels:
  mail: {{type: smtp, host: 127.0.0.1, port: {smtp_port}, starttls: true, username: sla-bot,
          password_env: TEST_SMTP_PASSWORD, sender: "SLA <sla@example.com>", cafile: "{cafile}"}}
  slack-room: {{type: slack_webhook, url_env: TEST_SLACK_URL}}
  slack-dm: {{type: slack_bot, token_env: TEST_SLACK_TOKEN, api_url: "{http}/slack/api"}}
  teams-room: {{type: teams_webhook, url_env: TEST_TEAMS_URL}}
  hook: {{type: webhook, url: "{http}/hook", secret_env: TEST_HOOK_SECRET}}
  hubspot: {{type: hubspot_task, token_env: TEST_HUBSPOT_TOKEN, api_url: "{http}/hubspot"}}
  salesforce: {{type: salesforce_task, token_env: TEST_SF_TOKEN, instance_url: "{http}/salesforce"}}
  pipedrive: {{type: pipedrive_activity, token_env: TEST_PD_TOKEN, api_url: "{http}/pipedrive"}}
routes:
  - name: tasks
    when: {{severity: warning}}
    notify: [owner]
    via: [mail, slack-dm, hubspot, salesforce, pipedrive]
  - name: rooms
    when: {{severity: breach}}
    notify: [team]
    via: [slack-room, teams-room, hook]
"""

FAST = RetryPolicy(attempts=4, first_delay=0.05, max_delay=2.0)


@dataclass
class Rig:
    config: NotifyConfig
    dispatcher: Dispatcher
    vendors: VendorServer
    mailbox: Mailbox
    dead: list[tuple[Message, Attempted]]
    metrics: NotifierMetrics

    def messages(self, severity: str, lead: str = "123456") -> list[Message]:
        routed = route(notice(lead=lead, severity=severity), self.config, PEOPLE)
        return [Message(d.channel, d.recipient, (d,)) for d in routed.deliveries]

    def count(self, kind: str, outcome: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "stream_sla_notifications_total", {"channel": kind, "outcome": outcome}
        )
        return value or 0.0


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    vendors = VendorServer()
    await vendors.start()
    monkeypatch.setenv("TEST_SLACK_URL", vendors.url("/slack/webhook"))
    monkeypatch.setenv("TEST_TEAMS_URL", vendors.url("/teams/webhook"))
    controller, mailbox, cert = start_mail_server(tmp_path, free_port())
    text = ALL_CHANNELS.format(smtp_port=controller.port, cafile=cert, http=vendors.url(""))
    config = load_notifications(write(tmp_path, text))
    dead: list[tuple[Message, Attempted]] = []

    async def dead_letter(message: Message, result: Attempted) -> None:
        dead.append((message, result))

    metrics = NotifierMetrics()
    async with aiohttp.ClientSession() as session:
        dispatcher = Dispatcher(
            config, build_channels(config.channels, session), metrics, dead_letter,
            {"200": "Ana Silva"}.get, clock=lambda: MONDAY_10_NY, policy=FAST,
        )  # fmt: skip
        yield Rig(config, dispatcher, vendors, mailbox, dead, metrics)
    controller.stop()
    await vendors.stop()
