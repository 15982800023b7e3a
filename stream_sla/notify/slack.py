"""Slack: an incoming webhook (a fixed channel) or ``chat.postMessage`` with a bot token.

Incoming webhooks: POST JSON ``{"text", "blocks"}`` to the webhook URL; HTTP 429 with
Retry-After when over about one message per second
(https://api.slack.com/messaging/webhooks). ``chat.postMessage``: POST
https://slack.com/api/chat.postMessage with ``Authorization: Bearer xoxb-...`` and JSON
``{"channel", "text", "blocks"}``; errors come as HTTP 200 with ``{"ok": false, "error"}``
(https://api.slack.com/methods/chat.postMessage). Slack has no idempotency key for
messages: the violation id travels in the block's ``block_id`` so a duplicate can be
recognised, but a retry after a lost answer can post twice.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from stream_sla.notify.config import SlackWebhook
from stream_sla.notify.delivery import Rejected, Retryable
from stream_sla.notify.http import TokenChannel, request_json
from stream_sla.notify.message import Rendered
from stream_sla.notify.model import Message

_RETRYABLE_ERRORS = {"ratelimited", "rate_limited", "service_unavailable", "internal_error",
                     "fatal_error", "request_timeout"}  # fmt: skip


def blocks(message: Message, rendered: Rendered) -> list[dict[str, Any]]:
    return [
        {
            "type": "section",
            "block_id": message.idempotency_key[:255],
            "text": {"type": "mrkdwn", "text": f"*{rendered.subject}*\n{rendered.text}"[:3000]},
        }
    ]


class SlackWebhookChannel:
    kind = "slack_webhook"

    def __init__(self, config: SlackWebhook, session: aiohttp.ClientSession) -> None:
        self.url = config.secret("url_env")
        self.session = session

    async def send(self, message: Message, rendered: Rendered) -> None:
        body = {"text": rendered.subject, "blocks": blocks(message, rendered)}
        await request_json(self.session, "POST", self.url, body, {})


class SlackBotChannel(TokenChannel):
    kind = "slack_bot"

    async def send(self, message: Message, rendered: Rendered) -> None:
        channel = self.config.channel or message.recipient.chat
        if not channel:
            raise Rejected(f"{message.recipient.key} has no chat handle")
        body = {"channel": channel, "text": rendered.subject, "blocks": blocks(message, rendered)}
        _, content = await request_json(
            self.session,
            "POST",
            f"{self.config.api_url.rstrip('/')}/chat.postMessage",
            body,
            {"Authorization": f"Bearer {self.token}"},
        )
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise Retryable(f"chat.postMessage answered non-JSON: {content[:100]!r}") from None
        if not answer.get("ok"):
            error = str(answer.get("error", "unknown"))
            if error in _RETRYABLE_ERRORS:
                raise Retryable(f"chat.postMessage: {error}")
            raise Rejected(f"chat.postMessage: {error}")
