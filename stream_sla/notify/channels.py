"""Channel objects from the routing file's ``channels`` section (one module per channel)."""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp

from stream_sla.notify.hubspot import HubSpotTaskChannel
from stream_sla.notify.message import Rendered
from stream_sla.notify.model import Message
from stream_sla.notify.pipedrive import PipedriveActivityChannel
from stream_sla.notify.salesforce import SalesforceTaskChannel
from stream_sla.notify.slack import SlackBotChannel, SlackWebhookChannel
from stream_sla.notify.smtp import SmtpChannel
from stream_sla.notify.teams import TeamsWebhookChannel
from stream_sla.notify.webhook import WebhookChannel


class Channel(Protocol):
    kind: str

    async def send(self, message: Message, rendered: Rendered) -> None: ...


_HTTP = {
    "slack_webhook": SlackWebhookChannel,
    "slack_bot": SlackBotChannel,
    "teams_webhook": TeamsWebhookChannel,
    "webhook": WebhookChannel,
    "hubspot_task": HubSpotTaskChannel,
    "salesforce_task": SalesforceTaskChannel,
    "pipedrive_activity": PipedriveActivityChannel,
}


def build_channels(configs: dict[str, Any], session: aiohttp.ClientSession) -> dict[str, Channel]:
    channels: dict[str, Channel] = {}
    for name, config in configs.items():
        if config.type == "smtp":
            channels[name] = SmtpChannel(config)
        else:
            channels[name] = _HTTP[config.type](config, session)
    return channels
