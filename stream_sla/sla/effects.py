"""What the core asks the outside world to do: publish a warning or breach, record a measure.

Effects carry deterministic ids (same lead, rule, severity and hand-off cycle ->
same id), so a consumer can de-duplicate whatever the delivery guarantee of the
transport turns out to be.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from stream_sla.sla.timestamps import format_ms

_ID_NAMESPACE = uuid.UUID("6f1c2a8e-5b7d-4c1e-9a0f-3d2b8e4c7a15")
_NAMESPACE_BYTES = _ID_NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_ID_NAMESPACE, name))`` without the UUID object (RFC 4122 section 4.3:
    SHA-1 of namespace and name, version 5 and the variant in their bits): every breach and
    warning needs one, and the object's checks cost more than the hash."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Rule(enum.StrEnum):
    FIRST_TOUCH = "first_touch"
    ATTEMPTS = "attempts"
    DISPOSITION = "disposition"


class Severity(enum.StrEnum):
    WARNING = "warning"
    BREACH = "breach"
    REROUTE = "reroute"
    """The owner is away and the rule escalates (``owner_away: escalate``): re-route the lead."""


class Settlement(enum.StrEnum):
    """How a rule ended for a cycle when it did not breach."""

    MET = "met"
    STOPPED = "stopped"
    """The cycle closed (disqualified, recycled, won, lost) before the promise fell due."""


class RetractReason(enum.StrEnum):
    """Why a published breach is no longer deserved (late data changed the verdict)."""

    CYCLE_MOVED = "cycle_moved"
    """A late earlier hand-off joined the cycle: its start, hence the breach's id, moved."""
    MET_LATE = "met_late"
    """A late attempt or status shows the promise was kept in time."""
    CLOSED_LATE = "closed_late"
    """A late closing status (disqualified, recycled, won, lost) ended the cycle in time."""
    PAUSED_LATE = "paused_late"
    """A late status shows the clock paused (pause_on) before the deadline, and still paused."""
    SEGMENT_CHANGED = "segment_changed"
    """A late lead-created event put the lead in a policy segment without this rule."""


def effect_id(lead_id: str, rule: Rule, severity: Severity, cycle_started_at: int) -> str:
    """Stable across restarts, replays and policy edits: the identity of one missed promise."""
    return _uuid5(f"{lead_id}|{rule}|{severity}|{cycle_started_at}")


def retraction_id(breach_id: str, generation: int) -> str:
    """The retraction's own deterministic id; ``generation`` counts earlier retractions of the
    same breach id (a cycle that moved can move back when a late closing status splits it)."""
    return _uuid5(f"{breach_id}|retracted|{generation}")


class OwnerShare(NamedTuple):
    """One owner's part of a rule's clock in a cycle that changed hands."""

    owner: str
    held_from: int
    held_to: int
    business_ms: int
    """Time the rule's clock ran (its calendar, pauses aside) while this owner held the lead."""

    def to_record(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "from": format_ms(self.held_from),
            "to": format_ms(self.held_to),
            "business_seconds": self.business_ms / 1000,
        }


def shares_record(owners: tuple[OwnerShare, ...]) -> dict[str, Any]:
    """``{"owners": [...]}`` when the lead changed hands inside the cycle, else nothing."""
    return {"owners": [o.to_record() for o in owners]} if owners else {}


@dataclass(frozen=True, slots=True)
class SlaViolation:
    """A warning (deadline near, still unmet) or a breach (deadline passed unmet)."""

    id: str
    severity: Severity
    rule: Rule
    lead_id: str
    cycle_started_at: int
    deadline_at: int
    detected_at: int
    target_seconds: float
    owner: str | None
    team: str | None
    source: str | None
    segment: str | None
    policy_segment: str
    policy_version: str
    detail: dict[str, int | str] = field(default_factory=dict)
    owners: tuple[OwnerShare, ...] = ()
    """Each owner's share of the clock, when the lead changed hands inside the cycle."""

    def to_record(self) -> dict[str, Any]:
        """The JSON value published to ``sla.breaches`` / ``sla.warnings`` (times as RFC 3339)."""
        return {
            "id": self.id,
            "severity": self.severity.value,
            "rule": self.rule.value,
            "lead_id": self.lead_id,
            "handed_at": format_ms(self.cycle_started_at),
            "deadline_at": format_ms(self.deadline_at),
            "detected_at": format_ms(self.detected_at),
            "late_by_seconds": max(0.0, (self.detected_at - self.deadline_at) / 1000),
            "target_seconds": self.target_seconds,
            "owner": self.owner,
            "team": self.team,
            "source": self.source,
            "segment": self.segment,
            "policy_segment": self.policy_segment,
            "policy_version": self.policy_version,
            **self.detail,
            **shares_record(self.owners),
        }

    def shares(self) -> dict[str, float]:
        """Who is charged how much of this record: the owners by their share of the clock's
        time (a re-assigned lead), else the owner at the deadline whole."""
        held = [(o.owner, o.business_ms or (o.held_to - o.held_from)) for o in self.owners]
        total = sum(ms for _, ms in held)
        if not total:
            return {self.owner or "unknown": 1.0}
        split: dict[str, float] = {}
        for owner, ms in held:
            split[owner] = split.get(owner, 0.0) + ms / total
        return split


@dataclass(frozen=True, slots=True)
class FirstTouchMeasured:
    """A hand-off got its first attempt: feeds the speed-to-lead histogram once per cycle."""

    lead_id: str
    team: str
    owner: str
    source: str | None
    segment: str | None
    seconds: float
    handed_at: int


@dataclass(frozen=True, slots=True)
class RuleSettled:
    """A rule was met (or became moot) for a cycle: the numerator of compliance, and points."""

    lead_id: str
    rule: Rule
    outcome: Settlement
    cycle_started_at: int
    owner: str
    team: str
    source: str | None
    policy_segment: str
    paused_seconds: float = 0.0
    """Time the rule's clock stood still on a pausing status before the promise was kept."""
    owners: tuple[OwnerShare, ...] = ()
    """Each owner's share of the clock until the promise was kept, when the lead changed
    hands inside the cycle."""


@dataclass(frozen=True, slots=True)
class MqlDelivered:
    """Marketing's side: a lead entered the funnel (once per lead), with its goal weight."""

    lead_id: str
    created_at: int
    source: str
    segment: str | None
    persona: str | None
    weight: float


@dataclass(frozen=True, slots=True)
class BreachRetracted:
    """A breach already published is no longer deserved: late data changed the verdict.

    Published on ``sla.breaches`` keyed by the lead, like the breach, so it follows it in the
    same partition. Consumers take the newest record per breach id: a breach in effect, or
    withdrawn by a retraction.
    """

    id: str
    retracts: str
    rule: Rule
    lead_id: str
    cycle_started_at: int
    reason: RetractReason
    detected_at: int

    def to_record(self) -> dict[str, Any]:
        """The JSON value published to ``sla.breaches`` (``retracts`` tells it from a breach)."""
        return {
            "id": self.id,
            "retracts": self.retracts,
            "rule": self.rule.value,
            "lead_id": self.lead_id,
            "handed_at": format_ms(self.cycle_started_at),
            "reason": self.reason.value,
            "detected_at": format_ms(self.detected_at),
        }


Effect = SlaViolation | FirstTouchMeasured | RuleSettled | MqlDelivered | BreachRetracted
