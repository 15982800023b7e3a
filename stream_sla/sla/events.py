"""CRM lead events, decoded once from the bytes the CRM published.

Every event is keyed by ``lead_id`` and carries ``event_id`` (duplicates are
recognised by it) and ``occurred_at`` (RFC 3339 with an offset; kept as integer
epoch milliseconds, the one time unit of the core). Decoding is strict: an event
the core cannot trust raises :class:`EventRejected` with a reason code, so the
adapter can dead-letter it instead of guessing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson


class EventKind(enum.StrEnum):
    """Which CRM topic an event came from; one event type per topic."""

    LEAD_CREATED = "lead-created"
    HANDED_TO_SALES = "handed-to-sales"
    CONTACT_ATTEMPT = "contact-attempt"
    LEAD_STATUS_CHANGED = "lead-status-changed"


class RejectReason(enum.StrEnum):
    """Why an event was refused; the label of the dead-letter metric."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    BAD_TIMESTAMP = "bad_timestamp"
    KEY_MISSING = "key_missing"
    KEY_MISMATCH = "key_mismatch"
    OVERSIZED = "oversized"
    TOO_LATE = "too_late"
    TOO_FAR_IN_FUTURE = "too_far_in_future"
    UNKNOWN_TOPIC = "unknown_topic"


class EventRejected(ValueError):
    """An input event the core refuses, with a machine reason and a human detail."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class Channel(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    SMS = "sms"
    SOCIAL = "social"
    MEETING = "meeting"


class Outcome(enum.StrEnum):
    """Result of a contact attempt; ``connected`` is what follow-up aims for."""

    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    SENT = "sent"
    REPLIED = "replied"
    CONNECTED = "connected"
    BAD_CONTACT = "bad_contact"


class LeadStatus(enum.StrEnum):
    """Dispositions a rep records; the last four close the hand-off cycle. Waiting on the
    prospect and meeting booked are the usual statuses a policy pauses clocks on."""

    ACCEPTED = "accepted"
    QUALIFIED = "qualified"
    WAITING_ON_PROSPECT = "waiting_on_prospect"
    MEETING_BOOKED = "meeting_booked"
    DISQUALIFIED = "disqualified"
    RECYCLED = "recycled"
    WON = "won"
    LOST = "lost"


CLOSING_STATUSES = frozenset(
    {LeadStatus.DISQUALIFIED, LeadStatus.RECYCLED, LeadStatus.WON, LeadStatus.LOST}
)


@dataclass(frozen=True, slots=True)
class LeadCreated:
    event_id: str
    lead_id: str
    occurred_at: int
    source: str
    segment: str | None = None
    tier: str | None = None
    region: str | None = None
    persona: str | None = None
    timezone: str | None = None
    """The lead's IANA time zone, when the CRM knows it: calling hours are local to the lead."""


@dataclass(frozen=True, slots=True)
class HandedToSales:
    event_id: str
    lead_id: str
    occurred_at: int
    owner: str
    team: str


@dataclass(frozen=True, slots=True)
class ContactAttempt:
    event_id: str
    lead_id: str
    occurred_at: int
    channel: Channel
    outcome: Outcome
    owner: str | None = None
    automated: bool = False
    """Sent by a sequence or a bot, not by the rep: a policy's touches do not count it."""
    duration_ms: int | None = None
    """Length of a call, when the CRM knows it (a policy may ask for a minimum)."""


@dataclass(frozen=True, slots=True)
class LeadStatusChanged:
    event_id: str
    lead_id: str
    occurred_at: int
    status: LeadStatus
    amount: float | None = None


Event = LeadCreated | HandedToSales | ContactAttempt | LeadStatusChanged

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MAX_EVENT_BYTES = 64 * 1024
"""CRM events are a few hundred bytes; anything this big is a CRM bug, not a lead."""


def parse_timestamp(value: object, field: str = "occurred_at") -> int:
    """RFC 3339 with an explicit offset -> epoch ms; naive times are refused, not guessed."""
    if not isinstance(value, str):
        raise EventRejected(RejectReason.WRONG_TYPE, f"{field}: expected an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EventRejected(
            RejectReason.BAD_TIMESTAMP, f"{field}: {value!r} is not RFC 3339"
        ) from None
    if parsed.tzinfo is None:
        raise EventRejected(
            RejectReason.BAD_TIMESTAMP,
            f"{field}: {value!r} has no UTC offset (write e.g. 2026-11-02T09:00:00Z)",
        )
    since = parsed - _EPOCH  # floor to the millisecond, as ``since // 1 ms``, without a division
    return since.days * 86_400_000 + since.seconds * 1000 + since.microseconds // 1000


MAX_TEXT_CHARS = 256
"""Longest id or label a CRM event may carry (ids, owner, team, source...): the lead's state
keeps some of them per fact, so this bounds its size along with the per-lead fact limits."""


def _checked_length(field: str, value: str) -> str:
    if len(value) > MAX_TEXT_CHARS:
        raise EventRejected(
            RejectReason.INVALID_VALUE,
            f"{field}: {len(value)} characters, the limit is {MAX_TEXT_CHARS}",
        )
    return value


def _text(obj: dict[str, Any], field: str) -> str:
    try:
        value = obj[field]
    except KeyError:
        raise EventRejected(RejectReason.MISSING_FIELD, f"{field} is required") from None
    if not isinstance(value, str) or not value:
        raise EventRejected(RejectReason.WRONG_TYPE, f"{field}: expected a non-empty string")
    return _checked_length(field, value)


def _optional_text(obj: dict[str, Any], field: str) -> str | None:
    value = obj.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventRejected(RejectReason.WRONG_TYPE, f"{field}: expected a string or null")
    return _checked_length(field, value)


def _flag(obj: dict[str, Any], field: str) -> bool:
    value = obj.get(field, False)
    if not isinstance(value, bool):
        raise EventRejected(RejectReason.WRONG_TYPE, f"{field}: expected true or false")
    return value


def _duration_ms(obj: dict[str, Any], field: str) -> int | None:
    value = obj.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise EventRejected(RejectReason.WRONG_TYPE, f"{field}: expected seconds (>= 0) or null")
    return round(value * 1000)


@lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _optional_zone(obj: dict[str, Any], field: str) -> str | None:
    value = _optional_text(obj, field)
    if value is not None and not _known_zone(value):
        raise EventRejected(
            RejectReason.INVALID_VALUE,
            f"{field}: {value!r} is not an IANA time zone (e.g. America/Los_Angeles)",
        )
    return value


E = TypeVar("E", bound=enum.StrEnum)


def _choice(obj: dict[str, Any], field: str, kind: type[E]) -> E:
    value = _text(obj, field)
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise EventRejected(
            RejectReason.INVALID_VALUE, f"{field}: {value!r} is not one of {allowed}"
        ) from None


def decode_event(kind: EventKind, key: bytes | None, value: bytes) -> Event:
    """Decode one CRM record; the Kafka key must be the lead id (co-partitioning relies on it:
    a keyless record lands on another partition than the lead's other events, where its
    state and deadlines are not)."""
    if len(value) > MAX_EVENT_BYTES:
        raise EventRejected(
            RejectReason.OVERSIZED, f"{len(value)} bytes, the limit is {MAX_EVENT_BYTES}"
        )
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EventRejected(RejectReason.INVALID_JSON, str(exc)) from None
    if key is None:
        raise EventRejected(
            RejectReason.KEY_MISSING, "the record has no key (it must be the lead_id)"
        )
    return event_from_object(kind, key, obj)


def event_from_object(kind: EventKind, key: bytes | None, obj: object) -> Event:
    """The typed event from already-parsed JSON (the replay reads JSON Lines itself)."""
    if not isinstance(obj, dict):
        raise EventRejected(
            RejectReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(obj).__name__}"
        )
    event_id = _text(obj, "event_id")
    lead_id = _text(obj, "lead_id")
    if key is not None and key != lead_id.encode():
        raise EventRejected(
            RejectReason.KEY_MISMATCH,
            f"record key {key[:64]!r} is not the lead_id {lead_id!r}",
        )
    occurred_at = parse_timestamp(obj.get("occurred_at"))
    if kind is EventKind.LEAD_CREATED:
        return LeadCreated(
            event_id,
            lead_id,
            occurred_at,
            source=_text(obj, "source"),
            segment=_optional_text(obj, "segment"),
            tier=_optional_text(obj, "tier"),
            region=_optional_text(obj, "region"),
            persona=_optional_text(obj, "persona"),
            timezone=_optional_zone(obj, "timezone"),
        )
    if kind is EventKind.HANDED_TO_SALES:
        return HandedToSales(
            event_id, lead_id, occurred_at, owner=_text(obj, "owner"), team=_text(obj, "team")
        )
    if kind is EventKind.CONTACT_ATTEMPT:
        return ContactAttempt(
            event_id,
            lead_id,
            occurred_at,
            channel=_choice(obj, "channel", Channel),
            outcome=_choice(obj, "outcome", Outcome),
            owner=_optional_text(obj, "owner"),
            automated=_flag(obj, "automated"),
            duration_ms=_duration_ms(obj, "duration_seconds"),
        )
    amount = obj.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise EventRejected(RejectReason.WRONG_TYPE, "amount: expected a number or null")
    return LeadStatusChanged(
        event_id,
        lead_id,
        occurred_at,
        status=_choice(obj, "status", LeadStatus),
        amount=float(amount) if amount is not None else None,
    )


def check_event_time(event: Event, now: int, max_late_ms: int, max_future_ms: int) -> None:
    """Refuse events the SLA clocks cannot honestly use: long past, or from the future."""
    if event.occurred_at < now - max_late_ms:
        raise EventRejected(
            RejectReason.TOO_LATE,
            f"occurred_at is {(now - event.occurred_at) // 1000}s old,"
            f" the lateness bound is {max_late_ms // 1000}s",
        )
    if event.occurred_at > now + max_future_ms:
        raise EventRejected(
            RejectReason.TOO_FAR_IN_FUTURE,
            f"occurred_at is {(event.occurred_at - now) // 1000}s ahead of the worker's clock,"
            f" at most {max_future_ms // 1000}s is allowed",
        )
