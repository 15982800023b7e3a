"""What a translator hands back: canonical events (bytes as the crm.* topics define them) or
dead letters, and the field readers the three vendor translators share.

Translators are pure: vendor payload bytes in, :class:`Translation` out, no Kafka, clock or
I/O, so the live agents and ``stream-sla replay --from`` cannot disagree. A vendor event
the SLA cannot use is a :class:`DeadLetter` with a reason code from
:class:`~stream_sla.sla.events.RejectReason` and the vendor's own JSON for that event;
one bad event in a batch never loses the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from stream_sla.sla.events import (
    Channel,
    EventKind,
    EventRejected,
    LeadStatus,
    Outcome,
    RejectReason,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EPOCH_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: beyond it no RFC 3339 time exists."""


@dataclass(frozen=True, slots=True)
class Canonical:
    """One event for a crm.* topic, keyed by ``lead_id``; ``value`` is the topic's JSON."""

    kind: EventKind
    lead_id: str
    value: bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    reason: RejectReason
    detail: str
    payload: bytes


@dataclass(slots=True)
class Translation:
    events: list[Canonical] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    ignored: int = 0
    """Vendor events that mean nothing to the SLA (another property, an unlisted status)."""

    def reject(self, exc: EventRejected, payload: object) -> None:
        if isinstance(payload, bytes):
            raw = payload
        else:
            try:
                raw = orjson.dumps(payload)
            except TypeError:
                raw = repr(payload).encode()
        self.dead.append(DeadLetter(exc.reason, exc.detail, raw))

    def add(self, events: list[Canonical]) -> None:
        if events:
            self.events.extend(events)
        else:
            self.ignored += 1


def rfc3339(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


def _json(kind: EventKind, lead_id: str, body: dict[str, Any]) -> Canonical:
    return Canonical(kind, lead_id, orjson.dumps(body))


def lead_created(event_id: str, lead_id: str, at_ms: int, source: str) -> Canonical:
    return _json(
        EventKind.LEAD_CREATED,
        lead_id,
        {"event_id": event_id, "lead_id": lead_id, "occurred_at": rfc3339(at_ms), "source": source},
    )


def handed_to_sales(event_id: str, lead_id: str, at_ms: int, owner: str, team: str) -> Canonical:
    return _json(
        EventKind.HANDED_TO_SALES,
        lead_id,
        {
            "event_id": event_id,
            "lead_id": lead_id,
            "occurred_at": rfc3339(at_ms),
            "owner": owner,
            "team": team,
        },
    )


def contact_attempt(
    event_id: str,
    lead_id: str,
    at_ms: int,
    channel: Channel,
    outcome: Outcome,
    owner: str | None,
) -> Canonical:
    return _json(
        EventKind.CONTACT_ATTEMPT,
        lead_id,
        {
            "event_id": event_id,
            "lead_id": lead_id,
            "occurred_at": rfc3339(at_ms),
            "channel": channel.value,
            "outcome": outcome.value,
            "owner": owner,
        },
    )


def status_changed(event_id: str, lead_id: str, at_ms: int, status: LeadStatus) -> Canonical:
    return _json(
        EventKind.LEAD_STATUS_CHANGED,
        lead_id,
        {
            "event_id": event_id,
            "lead_id": lead_id,
            "occurred_at": rfc3339(at_ms),
            "status": status.value,
        },
    )


# -- readers: each names the vendor field in its error ------------------------------------------


def obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EventRejected(
            RejectReason.NOT_AN_OBJECT,
            f"{what}: expected a JSON object, got {type(value).__name__}",
        )
    return value


def ident(o: dict[str, Any], name: str) -> str:
    """An id the vendor sends as a number or a string (HubSpot numbers, Pipedrive strings)."""
    if name not in o or o[name] is None:
        raise EventRejected(RejectReason.MISSING_FIELD, f"{name} is required")
    value = o[name]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise EventRejected(RejectReason.WRONG_TYPE, f"{name}: expected a number or a string")
    text = str(value).strip()
    if not text or len(text) > 200:
        raise EventRejected(RejectReason.INVALID_VALUE, f"{name}: expected a non-empty id")
    return text


def optional_ident(o: dict[str, Any], name: str) -> str | None:
    if o.get(name) is None or o.get(name) == "":
        return None
    return ident(o, name)


def text(o: dict[str, Any], name: str) -> str:
    if name not in o or o[name] is None:
        raise EventRejected(RejectReason.MISSING_FIELD, f"{name} is required")
    value = o[name]
    if not isinstance(value, str):
        raise EventRejected(RejectReason.WRONG_TYPE, f"{name}: expected a string")
    return value


def optional_text(o: dict[str, Any], name: str) -> str | None:
    value = o.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventRejected(RejectReason.WRONG_TYPE, f"{name}: expected a string or null")
    return value or None


def epoch_ms(o: dict[str, Any], name: str) -> int:
    if name not in o or o[name] is None:
        raise EventRejected(RejectReason.MISSING_FIELD, f"{name} is required")
    value = o[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventRejected(RejectReason.WRONG_TYPE, f"{name}: expected epoch milliseconds")
    return in_range(value, name)


def in_range(ms: int, name: str) -> int:
    if not 0 <= ms <= MAX_EPOCH_MS:
        raise EventRejected(RejectReason.BAD_TIMESTAMP, f"{name}: {ms} is out of range")
    return ms


def parse_json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EventRejected(RejectReason.INVALID_JSON, str(exc)) from None
