"""Pipedrive webhooks (v2) -> canonical events.

A v2 webhook body is one JSON object: ``meta`` (``action`` create/change/delete, ``entity``,
``entity_id``, ``timestamp``, ``attempt``, ...), ``data`` (the object after the change)
and ``previous`` (only the fields that changed, or null). What we read:

- a lead (or person) created -> lead-created (source from ``source_field``), and, as
  Pipedrive leads always have an owner, handed-to-sales to ``owner_id`` at the same time.
  A person's lead id is ``person-<id>``; a lead's is its UUID.
- ``owner_id`` in ``previous`` -> handed-to-sales to the new owner.
- ``is_archived`` turned true -> the status mapped from ``archived``.
- an activity of a type listed in ``attempts`` that is ``done`` (created done, or
  ``done`` in ``previous``) -> contact-attempt on its ``lead_id`` (else ``person_id``, else
  the primary of its ``participants``).
  A call with ``done: false`` is planned, not made, and counts for nothing.

Pipedrive sends no event id, so ids are built from what a retry repeats: entity, id,
action and ``meta.timestamp`` (``attempt`` is left out); an activity's attempt id is
``pipedrive:activity:<id>``, so an activity marked done twice is one attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stream_sla.gateway import canonical as c
from stream_sla.gateway.mappings import Mappings
from stream_sla.people import PeopleDirectory
from stream_sla.sla.events import EventRejected, RejectReason

CREATED = {"create", "added"}
CHANGED = {"change", "updated"}


def translate(body: bytes, mappings: Mappings, people: PeopleDirectory) -> c.Translation:
    result = c.Translation()
    try:
        payload = c.obj(c.parse_json(body), "webhook body")
        result.add(_events(payload, mappings, people))
    except EventRejected as exc:
        result.reject(exc, body)
    return result


def _events(payload: dict[str, Any], mappings: Mappings, people: PeopleDirectory) -> list[Any]:
    m = mappings.pipedrive
    meta = c.obj(payload.get("meta"), "meta")
    action = c.text(meta, "action")
    entity = c.text(meta, "entity") if "entity" in meta else c.text(meta, "object")
    if action not in CREATED | CHANGED:
        return []
    at = _timestamp(meta)
    data = c.obj(payload.get("data"), "data")
    previous = payload.get("previous") or {}
    if not isinstance(previous, dict):
        raise EventRejected(RejectReason.WRONG_TYPE, "previous: expected an object or null")
    entity_id = c.ident(data, "id")
    base = f"pipedrive:{entity}:{entity_id}:{action}:{at}"
    if entity in ("lead", "person"):
        lead_id = entity_id if entity == "lead" else f"person-{entity_id}"
        owner = c.optional_ident(data, "owner_id")
        events = []
        if action in CREATED:
            source = c.optional_text(data, m.source_field) or m.default_source
            events.append(c.lead_created(base, lead_id, at, source))
        if owner is not None and (action in CREATED or "owner_id" in previous):
            team = people.team_of(owner) or mappings.default_team
            events.append(c.handed_to_sales(base + ":owner", lead_id, at, owner, team))
        status = m.statuses.get("archived")
        archived = action in CHANGED and "is_archived" in previous and data.get("is_archived")
        if archived is True and status is not None:
            events.append(c.status_changed(base + ":archived", lead_id, at, status))
        return events
    if entity == "activity":
        attempt = m.attempts.get(c.text(data, "type"))
        just_done = action in CREATED or "done" in previous
        if attempt is None or data.get("done") is not True or not just_done:
            return []
        lead = c.optional_ident(data, "lead_id")
        person = c.optional_ident(data, "person_id") or _primary_participant(data)
        if lead is None and person is None:
            raise EventRejected(
                RejectReason.MISSING_FIELD, "activity: neither lead_id nor person_id names a lead"
            )
        lead_id = lead if lead is not None else f"person-{person}"
        owner = c.optional_ident(data, "owner_id") or c.optional_ident(data, "user_id")
        return [
            c.contact_attempt(
                f"pipedrive:activity:{entity_id}",
                lead_id,
                at,
                attempt.channel,
                attempt.outcome,
                owner,
            )
        ]
    return []


def _primary_participant(data: dict[str, Any]) -> str | None:
    """API v2 links an activity's people through ``participants``; the primary one, else the
    first, is the person the attempt was made on."""
    participants = data.get("participants")
    if not isinstance(participants, list):
        return None
    people = [p for p in participants if isinstance(p, dict) and p.get("person_id") is not None]
    people.sort(key=lambda p: p.get("primary") is not True)
    return c.ident(people[0], "person_id") if people else None


def _timestamp(meta: dict[str, Any]) -> int:
    """``meta.timestamp``: RFC 3339 text in v2, epoch seconds in v1-shaped payloads."""
    value = meta.get("timestamp")
    if isinstance(value, bool) or value is None:
        raise EventRejected(RejectReason.MISSING_FIELD, "meta.timestamp is required")
    if isinstance(value, int | float):
        ms = int(value * 1000) if value < 100_000_000_000 else int(value)
        return c.in_range(ms, "meta.timestamp")
    if not isinstance(value, str):
        raise EventRejected(RejectReason.WRONG_TYPE, "meta.timestamp: expected a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EventRejected(
            RejectReason.BAD_TIMESTAMP, f"meta.timestamp: {value[:40]!r} is not RFC 3339"
        ) from None
    if parsed.tzinfo is None:
        raise EventRejected(RejectReason.BAD_TIMESTAMP, "meta.timestamp: no UTC offset")
    return c.in_range(int(parsed.timestamp() * 1000), "meta.timestamp")
