"""Microsoft Teams incoming webhook: an Adaptive Card in a ``message`` envelope.

POST to the webhook URL with ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": {AdaptiveCard 1.4}}]}``
(https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook).
Connectors report throttling with HTTP 429, and some deployments answer HTTP 200 with a
body naming the error ("Microsoft Teams endpoint returned HTTP error 429"); both retry.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from stream_sla.notify.config import TeamsWebhook
from stream_sla.notify.delivery import Retryable
from stream_sla.notify.http import request_json
from stream_sla.notify.message import Rendered
from stream_sla.notify.model import Message


def card(message: Message, rendered: Rendered) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": rendered.subject,
                            "weight": "Bolder",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": rendered.text, "wrap": True},
                    ],
                    "actions": [
                        {"type": "Action.OpenUrl", "title": "Open the lead", "url": rendered.link}
                    ],
                    "msteams": {"entities": []},
                    "id": message.idempotency_key,
                },
            }
        ],
    }


class TeamsWebhookChannel:
    kind = "teams_webhook"

    def __init__(self, config: TeamsWebhook, session: aiohttp.ClientSession) -> None:
        self.url = config.secret("url_env")
        self.session = session

    async def send(self, message: Message, rendered: Rendered) -> None:
        _, content = await request_json(self.session, "POST", self.url, card(message, rendered), {})
        text = content[:300].decode(errors="replace")
        if "429" in text and "error" in text.lower():
            raise Retryable(f"Teams throttled: {text}")
