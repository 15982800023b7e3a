"""A Salesforce Task for the lead's owner, upserted by an External ID (idempotent retries).

PATCH {instance}/services/data/vXX.X/sobjects/Task/{External ID field}/{violation key}
with ``Authorization: Bearer <token>`` and the Task's fields (Subject, Description,
ActivityDate, OwnerId, WhoId, Status, Priority): "Insert or Update (Upsert) a Record
Using an External ID" (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm).
The first call creates the Task (201), a retry with the same key updates it (200): no
duplicate. Salesforce signals API limits with 403 ``REQUEST_LIMIT_EXCEEDED``, which is
retried; other 4xx are not.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from stream_sla.notify.delivery import Rejected, Retryable
from stream_sla.notify.http import TokenChannel, request_json
from stream_sla.notify.message import Rendered
from stream_sla.notify.model import Message

_LEAD_ID = re.compile(r"^00Q[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?$")
"""Salesforce Lead ids start with the key prefix 00Q (15 or 18 characters)."""


def task_fields(message: Message, rendered: Rendered) -> dict[str, Any]:
    notice = message.deliveries[0].notice
    owner = message.recipient.crm_owner_id
    if not owner:
        raise Rejected(f"{message.recipient.key} is not a CRM owner")
    due = datetime.fromtimestamp(notice.deadline_at / 1000, ZoneInfo(message.recipient.timezone))
    fields: dict[str, Any] = {
        "Subject": rendered.subject[:255],
        "Description": rendered.text[:32000],
        "ActivityDate": due.date().isoformat(),
        "OwnerId": owner,
        "Status": "Not Started",
        "Priority": "High"
        if any(d.notice.severity == "breach" for d in message.deliveries)
        else "Normal",
    }
    if _LEAD_ID.match(notice.lead_id):
        fields["WhoId"] = notice.lead_id
    return fields


class SalesforceTaskChannel(TokenChannel):
    kind = "salesforce_task"

    def url(self, key: str) -> str:
        c = self.config
        return (
            f"{c.instance_url.rstrip('/')}/services/data/{c.api_version}/sobjects/Task/"
            f"{c.external_id_field}/{quote(key, safe='')}"
        )

    async def send(self, message: Message, rendered: Rendered) -> None:
        try:
            await request_json(
                self.session,
                "PATCH",
                self.url(message.idempotency_key),
                task_fields(message, rendered),
                {"Authorization": f"Bearer {self.token}"},
            )
        except Rejected as exc:
            if "REQUEST_LIMIT_EXCEEDED" in exc.reason:
                raise Retryable(exc.reason) from None
            raise
