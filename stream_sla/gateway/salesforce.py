"""Salesforce Change Data Capture records (as the Kafka Connect CDC source writes them) ->
canonical events.

A record's value is the change event as JSON: the object's fields plus a
``ChangeEventHeader`` (``entityName``, ``changeType``, ``recordIds``, ``changedFields``,
``commitTimestamp`` in epoch ms, ``transactionKey``, ``sequenceNumber``). In an UPDATE the
fields that did not change are null. With ``schemas.enable=true`` the JSON converter wraps
it as ``{"schema": ..., "payload": ...}``; both shapes are read. The record key is not
documented, so it is not used. What we read:

- Lead CREATE -> lead-created (source from ``LeadSource``) and, when ``OwnerId`` is a user
  (``005...``; a queue ``00G...`` holds nobody to an SLA), handed-to-sales.
- Lead UPDATE with ``OwnerId`` in ``changedFields`` -> handed-to-sales to a user;
  with ``Status`` -> the mapped status (an unlisted status is not a disposition).
- Task CREATE of a ``TaskSubtype`` listed in ``attempts`` whose ``WhoId`` is a lead
  (``00Q...``) -> contact-attempt; the outcome from ``CallDisposition`` when mapped. A
  task created not ``Completed`` is planned work, not an attempt.

Event ids are ``salesforce:<transactionKey>:<sequenceNumber>:<record id>``, the same on
every redelivery of the change event.
"""

from __future__ import annotations

from typing import Any

from stream_sla.gateway import canonical as c
from stream_sla.gateway.mappings import Mappings
from stream_sla.people import PeopleDirectory
from stream_sla.sla.events import EventRejected, RejectReason

USER_PREFIX = "005"
LEAD_PREFIX = "00Q"


def translate(body: bytes, mappings: Mappings, people: PeopleDirectory) -> c.Translation:
    result = c.Translation()
    try:
        record = c.obj(c.parse_json(body), "change event")
        if "payload" in record and "schema" in record:
            record = c.obj(record["payload"], "payload")
        result.add(_events(record, mappings, people))
    except EventRejected as exc:
        result.reject(exc, body)
    return result


def _events(record: dict[str, Any], mappings: Mappings, people: PeopleDirectory) -> list[Any]:
    m = mappings.salesforce
    header = c.obj(record.get("ChangeEventHeader"), "ChangeEventHeader")
    entity = c.text(header, "entityName")
    change = c.text(header, "changeType")
    at = c.epoch_ms(header, "commitTimestamp")
    ids = header.get("recordIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise EventRejected(RejectReason.WRONG_TYPE, "recordIds: expected a list of record ids")
    changed = header.get("changedFields") or []
    if not isinstance(changed, list):
        raise EventRejected(RejectReason.WRONG_TYPE, "changedFields: expected a list")
    base = f"salesforce:{c.ident(header, 'transactionKey')}:{c.ident(header, 'sequenceNumber')}"
    events: list[c.Canonical] = []
    if entity == "Lead":
        owner = c.optional_text(record, "OwnerId")
        for lead_id in ids:
            event_id = f"{base}:{lead_id}"
            if change == "CREATE":
                source = c.optional_text(record, m.source_field) or m.default_source
                events.append(c.lead_created(event_id, lead_id, at, source))
            if owner and owner.startswith(USER_PREFIX) and _touches(change, changed, "OwnerId"):
                team = people.team_of(owner) or mappings.default_team
                events.append(c.handed_to_sales(event_id + ":owner", lead_id, at, owner, team))
            status = m.statuses.get(c.optional_text(record, "Status") or "")
            if change == "UPDATE" and "Status" in changed and status is not None:
                events.append(c.status_changed(event_id + ":status", lead_id, at, status))
        return events
    if entity == "Task" and change == "CREATE":
        subtype = c.optional_text(record, "TaskSubtype")
        who = c.optional_text(record, "WhoId")
        task_status = c.optional_text(record, "Status")
        attempt = m.attempts.get(subtype or "")
        if attempt is None or not who or not who.startswith(LEAD_PREFIX):
            return []
        if task_status is not None and task_status != "Completed":
            return []
        outcome = attempt.outcome
        disposition = c.optional_text(record, "CallDisposition")
        if disposition is not None:
            outcome = m.dispositions.get(disposition, outcome)
        owner = c.optional_text(record, "OwnerId")
        for task_id in ids:
            events.append(
                c.contact_attempt(
                    f"salesforce:task:{task_id}", who, at, attempt.channel, outcome, owner
                )
            )
    return events


def _touches(change: str, changed: list[Any], field: str) -> bool:
    return change == "CREATE" or (change == "UPDATE" and field in changed)
