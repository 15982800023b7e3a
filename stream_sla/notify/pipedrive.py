"""A Pipedrive activity (a task) for the lead's owner.

POST {company domain}/api/v2/activities with the ``x-api-token`` header and ``{subject,
type, owner_id, lead_id, due_date, due_time, note, done: false}``; answers ``{"success":
true, "data": {...}}`` (https://developers.pipedrive.com/docs/api/v1/Activities#addActivity,
API v2). Owner ids are integers, lead ids UUID strings. Pipedrive has no idempotency key
for creation: the violation id is written into the note so a duplicate can be found.
"""

from __future__ import annotations

import re
from typing import Any

from stream_sla.notify.config import PipedriveActivity
from stream_sla.notify.delivery import Rejected
from stream_sla.notify.http import TokenChannel, request_json
from stream_sla.notify.message import Rendered
from stream_sla.notify.model import Message
from stream_sla.sla.timestamps import to_datetime

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def activity_body(
    config: PipedriveActivity, message: Message, rendered: Rendered
) -> dict[str, Any]:
    notice = message.deliveries[0].notice
    owner = message.recipient.crm_owner_id
    if not owner or not owner.isdigit():
        raise Rejected(f"{message.recipient.key}: a Pipedrive owner id is an integer")
    due = to_datetime(notice.deadline_at)
    body: dict[str, Any] = {
        "subject": rendered.subject[:255],
        "type": config.activity_type,
        "owner_id": int(owner),
        "due_date": due.strftime("%Y-%m-%d"),
        "due_time": due.strftime("%H:%M"),
        "note": f"{rendered.text}\nstream-sla id: {message.idempotency_key}",
        "done": False,
    }
    if _UUID.match(notice.lead_id):
        body["lead_id"] = notice.lead_id
    return body


class PipedriveActivityChannel(TokenChannel):
    kind = "pipedrive_activity"

    async def send(self, message: Message, rendered: Rendered) -> None:
        await request_json(
            self.session,
            "POST",
            f"{self.config.api_url.rstrip('/')}/api/v2/activities",
            activity_body(self.config, message, rendered),
            {"x-api-token": self.token},
        )
