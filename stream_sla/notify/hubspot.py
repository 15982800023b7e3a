"""A HubSpot task for the lead's owner: the seeds' "open task in your CRM".

POST https://api.hubapi.com/crm/v3/objects/tasks with ``Authorization: Bearer <private
app token>`` and ``{"properties": {hs_timestamp, hs_task_subject, hs_task_body,
hs_task_status, hs_task_priority, hs_task_type, hubspot_owner_id}, "associations": [...]}``
(https://developers.hubspot.com/docs/api/crm/tasks). A numeric lead id is taken as the
HubSpot contact id and the task is associated with it (type 204, task -> contact).
HubSpot has no idempotency key on object creation: the violation id is written into the
task body (``stream-sla id: ...``) so a duplicate after a lost answer can be found, and
HubSpot's 429 carries X-HubSpot-RateLimit-* headers instead of Retry-After, so backoff
applies.
"""

from __future__ import annotations

from typing import Any

from stream_sla.notify.config import HubSpotTask
from stream_sla.notify.delivery import Rejected
from stream_sla.notify.http import TokenChannel, request_json
from stream_sla.notify.message import Rendered
from stream_sla.notify.model import Message
from stream_sla.sla.timestamps import format_ms


def task_body(config: HubSpotTask, message: Message, rendered: Rendered) -> dict[str, Any]:
    notice = message.deliveries[0].notice
    owner = message.recipient.crm_owner_id
    if not owner:
        raise Rejected(f"{message.recipient.key} is not a CRM owner")
    breach = any(d.notice.severity == "breach" for d in message.deliveries)
    body: dict[str, Any] = {
        "properties": {
            "hs_timestamp": format_ms(notice.deadline_at),
            "hs_task_subject": rendered.subject[:255],
            "hs_task_body": f"{rendered.text}\nstream-sla id: {message.idempotency_key}",
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH" if breach else "MEDIUM",
            "hs_task_type": "CALL" if notice.rule == "first_touch" else "TODO",
            "hubspot_owner_id": owner,
        }
    }
    contacts = [d.notice.lead_id for d in message.deliveries if d.notice.lead_id.isdigit()]
    if contacts:
        body["associations"] = [
            {
                "to": {"id": contact},
                "types": [
                    {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": config.contact_association_type,
                    }
                ],
            }
            for contact in dict.fromkeys(contacts)
        ]
    return body


class HubSpotTaskChannel(TokenChannel):
    kind = "hubspot_task"

    async def send(self, message: Message, rendered: Rendered) -> None:
        await request_json(
            self.session,
            "POST",
            f"{self.config.api_url.rstrip('/')}/crm/v3/objects/tasks",
            task_body(self.config, message, rendered),
            {"Authorization": f"Bearer {self.token}"},
        )
