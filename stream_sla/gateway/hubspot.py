"""HubSpot webhook batches -> canonical events.

A HubSpot webhook body is a JSON array of up to 100 events, not in time order, each with
an ``eventId`` (kept across retries), ``subscriptionType``, a numeric ``objectId`` and
``occurredAt`` in epoch milliseconds; property changes carry ``propertyName`` and
``propertyValue`` (text), never the whole object. What we read:

- ``contact.creation`` (or ``object.creation`` of object type ``0-1``) -> lead-created;
  its source is the source property's value if the same batch carries it (HubSpot sends
  the properties set at creation alongside), else ``default_source``.
- a contact property change on the owner property -> handed-to-sales (team from the
  people directory), on a status property listed in the mappings -> lead-status-changed.
- ``object.associationChange`` between a call (``0-48``), email (``0-49``) or meeting
  (``0-47``) and a contact (``0-1``) -> contact-attempt. Calls are their own objects, so
  the association is what names the lead. The outcome is the call's
  ``hs_call_disposition`` when the same batch carries it, else the mapping's default. The
  event id is built from the call and contact ids, so both directions of the association
  (and retries) are one attempt.

Event ids are ``hubspot:<eventId>``: a retried batch produces the same ids, which the SLA
engine drops as duplicates.
"""

from __future__ import annotations

from typing import Any

from stream_sla.gateway import canonical as c
from stream_sla.gateway.mappings import Mappings
from stream_sla.people import PeopleDirectory
from stream_sla.sla.events import EventRejected, RejectReason

CONTACT = "0-1"
ENGAGEMENTS = {"0-48": "call", "0-49": "email", "0-47": "meeting"}
DISPOSITION = "hs_call_disposition"


def translate(body: bytes, mappings: Mappings, people: PeopleDirectory) -> c.Translation:
    result = c.Translation()
    try:
        items = c.parse_json(body)
        if not isinstance(items, list):
            raise EventRejected(
                RejectReason.WRONG_TYPE, "a HubSpot webhook body is a JSON array of events"
            )
    except EventRejected as exc:
        result.reject(exc, body)
        return result
    batch = _Batch(items, mappings)
    for item in items:
        try:
            result.add(batch.events(c.obj(item, "event"), people))
        except EventRejected as exc:
            result.reject(exc, item)
    return result


class _Batch:
    """Values the batch carries for other events: sources of new contacts, call dispositions."""

    def __init__(self, items: list[Any], mappings: Mappings) -> None:
        self.m = mappings.hubspot
        self.default_team = mappings.default_team
        self.sources: dict[str, str] = {}
        self.dispositions: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict) or not str(item.get("subscriptionType", "")).endswith(
                ".propertyChange"
            ):
                continue
            value, object_id = item.get("propertyValue"), item.get("objectId")
            if not isinstance(value, str) or not value or isinstance(object_id, bool):
                continue
            if not isinstance(object_id, int | str):
                continue
            name = item.get("propertyName")
            if name == self.m.source_property and _object_type(item) == CONTACT:
                self.sources[str(object_id)] = value
            elif name == DISPOSITION and _object_type(item) == "0-48":
                self.dispositions[str(object_id)] = value

    def events(self, item: dict[str, Any], people: PeopleDirectory) -> list[c.Canonical]:
        kind = c.text(item, "subscriptionType")
        event_id = "hubspot:" + c.ident(item, "eventId")
        at = c.epoch_ms(item, "occurredAt")
        action = kind.partition(".")[2]
        if action == "associationChange":
            return self._attempt(item, at)
        if _object_type(item) != CONTACT:
            return []
        lead_id = c.ident(item, "objectId")
        if action == "creation":
            source = self.sources.get(lead_id, self.m.default_source)
            return [c.lead_created(event_id, lead_id, at, source)]
        if action != "propertyChange":
            return []
        name = c.text(item, "propertyName")
        value = c.optional_text(item, "propertyValue")
        if name == self.m.owner_property:
            if value is None:
                return []  # unassigned: nobody to hold to the SLA
            team = people.team_of(value) or self.default_team
            return [c.handed_to_sales(event_id, lead_id, at, value, team)]
        status = self.m.statuses.get(name, {}).get(value or "")
        if status is not None:
            return [c.status_changed(event_id, lead_id, at, status)]
        return []

    def _attempt(self, item: dict[str, Any], at: int) -> list[c.Canonical]:
        ends = (_text_or_none(item, "fromObjectTypeId"), _text_or_none(item, "toObjectTypeId"))
        ids = (c.ident(item, "fromObjectId"), c.ident(item, "toObjectId"))
        if ends[1] == CONTACT and ends[0] in ENGAGEMENTS:
            engagement_type, engagement, lead_id = ENGAGEMENTS[ends[0]], ids[0], ids[1]
        elif ends[0] == CONTACT and ends[1] in ENGAGEMENTS:
            engagement_type, engagement, lead_id = ENGAGEMENTS[ends[1]], ids[1], ids[0]
        else:
            return []
        if item.get("associationRemoved") is True:
            return []
        attempt = self.m.attempts.get(engagement_type)
        if attempt is None:
            return []
        outcome = attempt.outcome
        disposition = self.dispositions.get(engagement)
        if engagement_type == "call" and disposition is not None:
            outcome = self.m.dispositions.get(disposition, outcome)
        event_id = f"hubspot:{engagement_type}:{engagement}:{lead_id}"
        return [c.contact_attempt(event_id, lead_id, at, attempt.channel, outcome, None)]


def _object_type(item: dict[str, Any]) -> str | None:
    """``0-1`` for contacts: legacy ``contact.*`` types say it in their name."""
    kind = item.get("subscriptionType")
    if isinstance(kind, str) and kind.startswith("contact."):
        return CONTACT
    value = item.get("objectTypeId")
    return value if isinstance(value, str) else None


def _text_or_none(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value if isinstance(value, str) else None
