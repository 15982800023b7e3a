"""What the notifier passes between its decisions: notices, recipients, deliveries.

A :class:`Notice` is one warning or breach as read from ``sla.warnings`` / ``sla.breaches``
(times as epoch milliseconds); the notifier never needs the core's internal types.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from stream_sla.sla.events import parse_timestamp

_KEY_NAMESPACE = uuid.UUID("2d6b9f64-3f0e-4f55-9a3c-7c1e0a8f5b21")


@dataclass(frozen=True, slots=True)
class Notice:
    id: str
    severity: str
    rule: str
    lead_id: str
    handed_at: int
    deadline_at: int
    detected_at: int
    target_seconds: float
    owner: str | None
    team: str | None
    segment: str | None
    source: str | None
    policy_segment: str
    required_attempts: int | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Notice:
        """A record of sla.warnings / sla.breaches (see topics/); KeyError/ValueError if not."""
        return cls(
            id=str(record["id"]),
            severity=str(record["severity"]),
            rule=str(record["rule"]),
            lead_id=str(record["lead_id"]),
            handed_at=parse_timestamp(record["handed_at"], "handed_at"),
            deadline_at=parse_timestamp(record["deadline_at"], "deadline_at"),
            detected_at=parse_timestamp(record["detected_at"], "detected_at"),
            target_seconds=float(record["target_seconds"]),
            owner=record.get("owner"),
            team=record.get("team"),
            segment=record.get("segment"),
            source=record.get("source"),
            policy_segment=str(record.get("policy_segment", "")),
            required_attempts=record.get("required_attempts"),
        )


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person (the owner, their manager, on-call) or a team's channel.

    ``key`` names the recipient in rate limits and idempotency keys (``person:ana.silva``,
    ``team:smb-east``, ``on_call``); ``crm_owner_id`` is who a CRM task is assigned to.
    """

    key: str
    name: str
    timezone: str
    email: str | None = None
    chat: str | None = None
    crm_owner_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notice for one recipient over one configured channel."""

    route: str
    channel: str
    recipient: Recipient
    notice: Notice
    urgent: bool = False
    escalation: bool = False
    """The recipient is the owner's manager (an escalation), not the owner."""


@dataclass(frozen=True, slots=True)
class Message:
    """What goes out in one send: one notice, or a digest of several for one recipient."""

    channel: str
    recipient: Recipient
    deliveries: tuple[Delivery, ...]
    kind: str = "notice"
    """notice (one or a digest) or strike: part of the idempotency key."""

    @property
    def idempotency_key(self) -> str:
        """The violation id for a single notice to a single recipient (the common case), so
        a retry after a crash carries the same key; a digest's key is derived from its ids."""
        ids = sorted(d.notice.id for d in self.deliveries)
        if len(ids) == 1 or self.kind != "notice":
            return f"{ids[0]}.{_slug(self.recipient.key)}"
        digest = uuid.uuid5(_KEY_NAMESPACE, "|".join(ids))
        return f"digest-{digest}.{_slug(self.recipient.key)}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)
