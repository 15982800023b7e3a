"""A generic webhook for anything else: JSON body, HMAC-SHA256 signature, idempotency key.

Headers: ``Idempotency-Key`` (the violation id and recipient: the receiver drops what it
already has), ``X-Stream-SLA-Timestamp`` (unix seconds) and ``X-Stream-SLA-Signature:
sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>``: the receiver recomputes
it over the raw bytes, compares in constant time and refuses old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import aiohttp
import orjson

from stream_sla.notify.config import Webhook
from stream_sla.notify.http import request_json
from stream_sla.notify.message import Rendered
from stream_sla.notify.model import Message


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def payload(message: Message, rendered: Rendered) -> dict[str, Any]:
    r = message.recipient
    return {
        "id": message.idempotency_key,
        "kind": "digest" if len(message.deliveries) > 1 else "notice",
        "recipient": {"key": r.key, "name": r.name, "email": r.email, "chat": r.chat},
        "subject": rendered.subject,
        "text": rendered.text,
        "link": rendered.link,
        "notices": [
            {
                "violation_id": d.notice.id,
                "severity": d.notice.severity,
                "rule": d.notice.rule,
                "lead_id": d.notice.lead_id,
                "owner": d.notice.owner,
                "team": d.notice.team,
                "route": d.route,
                "escalation": d.escalation,
            }
            for d in message.deliveries
        ],
    }


class WebhookChannel:
    kind = "webhook"

    def __init__(self, config: Webhook, session: aiohttp.ClientSession) -> None:
        self.url = config.url
        self.secret = config.secret("secret_env")
        self.session = session

    async def send(self, message: Message, rendered: Rendered) -> None:
        body = orjson.dumps(payload(message, rendered))
        timestamp = str(int(time.time()))
        headers = {
            "Idempotency-Key": message.idempotency_key,
            "X-Stream-SLA-Timestamp": timestamp,
            "X-Stream-SLA-Signature": signature(self.secret, timestamp, body),
        }
        await request_json(self.session, "POST", self.url, None, headers, raw=body)
