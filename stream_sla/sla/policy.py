"""The service levels the agreement promises, as numbers with units and windows.

A policy is versioned (the version travels in every breach), so a breach can
always be traced to the targets in force when it was decided. Segments are
matched on lead fields, first match wins; the last segment is the default.
Built from a YAML file by :mod:`stream_sla.policy_file`; the defaults below are
the textbook agreement from the source documents.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from stream_sla.sla.availability import OwnerAway
from stream_sla.sla.calendar import ALWAYS_OPEN, Calendar
from stream_sla.sla.calling_hours import CallingHours
from stream_sla.sla.timestamps import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE


@dataclass(frozen=True, slots=True)
class WarnAt:
    """When a pre-breach warning goes out: a fraction of the target, or a lead time before it."""

    fraction: float | None = 0.75
    before_ms: int | None = None

    def offset(self, within_ms: int) -> int | None:
        """Open time after the clock start at which to warn (None: no warning)."""
        if self.before_ms is not None:
            return max(0, within_ms - self.before_ms)
        if self.fraction is not None:
            return int(within_ms * self.fraction)
        return None


NO_WARNING = WarnAt(fraction=None)


@dataclass(frozen=True, slots=True)
class Touches:
    """What counts as a contact attempt for a rule; the rest is kept and reported, not counted.

    The defaults count every attempt a rep made: any channel and outcome, calls of any length;
    automated touches (sequence emails, bots) never count unless ``automated`` is set.
    """

    channels: frozenset[str] | None = None
    outcomes: frozenset[str] | None = None
    min_call_ms: int = 0
    automated: bool = False

    def counts(self, channel: str, outcome: str, automated: bool, duration_ms: int | None) -> bool:
        if automated and not self.automated:
            return False
        if self.channels is not None and channel not in self.channels:
            return False
        if self.outcomes is not None and outcome not in self.outcomes:
            return False
        return not (
            self.min_call_ms and channel == "call" and (duration_ms or 0) < self.min_call_ms
        )


EVERY_TOUCH = Touches()


@dataclass(frozen=True, slots=True)
class FirstTouchRule:
    """Hand-off to first contact attempt: reps inside one hour are ~7x likelier to connect."""

    within_ms: int = MS_PER_HOUR
    calendar: Calendar = ALWAYS_OPEN
    warn: WarnAt = WarnAt(0.75)
    compliance_target: float = 0.9
    touches: Touches = EVERY_TOUCH
    pause_on: frozenset[str] = frozenset()
    """Lead statuses that stop this rule's clock until the lead leaves them (e.g. waiting on
    the prospect): the wait is the prospect's, not the rep's."""
    owner_away: OwnerAway = OwnerAway.TEAM_CALENDAR
    """What the clock does while the lead's owner is away (absent, or off their hours)."""
    grace_ms: int = 0
    """``escalate``: business time with the owner away before the re-route record."""


@dataclass(frozen=True, slots=True)
class Rung:
    attempts: int
    within_ms: int


@dataclass(frozen=True, slots=True)
class AttemptsRule:
    """Depth of follow-up on leads not yet connected: a ladder of attempts counted from hand-off.

    Attempts closer than ``min_spacing_ms`` to the previous counted one do not
    count (three emails in a minute are one attempt). A connection, or the end of
    the cycle, stops the ladder.
    """

    ladder: tuple[Rung, ...] = (
        Rung(3, 14 * MS_PER_DAY),
        Rung(5, 28 * MS_PER_DAY),
        Rung(7, 56 * MS_PER_DAY),
    )
    min_spacing_ms: int = 0
    calendar: Calendar = ALWAYS_OPEN
    warn: WarnAt = WarnAt(fraction=None, before_ms=2 * MS_PER_DAY)
    compliance_target: float = 0.9
    touches: Touches = EVERY_TOUCH
    pause_on: frozenset[str] = frozenset()
    """Lead statuses that stop this rule's clock until the lead leaves them (e.g. waiting on
    the prospect): the wait is the prospect's, not the rep's."""
    owner_away: OwnerAway = OwnerAway.TEAM_CALENDAR
    """What the clock does while the lead's owner is away (absent, or off their hours)."""
    grace_ms: int = 0
    """``escalate``: business time with the owner away before the re-route record."""


@dataclass(frozen=True, slots=True)
class DispositionRule:
    """A new lead must get a status (accepted, qualified, disqualified, recycled...) in time."""

    within_ms: int = 48 * MS_PER_HOUR
    calendar: Calendar = ALWAYS_OPEN
    warn: WarnAt = WarnAt(0.75)
    compliance_target: float = 0.9
    pause_on: frozenset[str] = frozenset()
    """Lead statuses that stop this rule's clock until the lead leaves them (e.g. waiting on
    the prospect): the wait is the prospect's, not the rep's."""
    owner_away: OwnerAway = OwnerAway.TEAM_CALENDAR
    """What the clock does while the lead's owner is away (absent, or off their hours)."""
    grace_ms: int = 0
    """``escalate``: business time with the owner away before the re-route record."""


MATCH_FIELDS = ("source", "segment", "tier", "region", "persona", "team")


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    match: tuple[tuple[str, frozenset[str]], ...] = ()
    """(field, allowed values) pairs, all of which must hold; empty matches every lead."""
    first_touch: FirstTouchRule | None = FirstTouchRule()
    attempts: AttemptsRule | None = AttemptsRule()
    disposition: DispositionRule | None = DispositionRule()

    def matches(self, fields: Mapping[str, str | None]) -> bool:
        return all(fields.get(name) in allowed for name, allowed in self.match)


class Reassignment(enum.StrEnum):
    KEEP = "keep"
    """The clock keeps running from the first hand-off of the cycle (the default)."""
    RESTART = "restart"
    """A re-assignment before the first touch gives the new rep a fresh clock."""


@dataclass(frozen=True, slots=True)
class Lateness:
    """Events outside [now - max_late, now + max_future] are refused (dead-lettered)."""

    max_late_ms: int = 30 * MS_PER_DAY
    max_future_ms: int = 5 * MS_PER_MINUTE


@dataclass(frozen=True, slots=True)
class MarketingGoals:
    """Marketing's side: MQLs per month, overall and per source/segment, optionally weighted."""

    monthly_mqls: int | None = None
    by_source: tuple[tuple[str, int], ...] = ()
    by_segment: tuple[tuple[str, int], ...] = ()
    persona_weights: tuple[tuple[str, float], ...] = ()
    """E.g. CEO 100, director 50, manager 40: value-weighted goals instead of volume."""
    default_weight: float = 1.0
    timezone: str = "UTC"
    """Where the reporting day and month begin."""

    def weight(self, persona: str | None) -> float:
        for name, value in self.persona_weights:
            if name == persona:
                return value
        return self.default_weight


DEFAULT_SEGMENT = Segment("default")


@dataclass(frozen=True, slots=True)
class Policy:
    version: str = "default-1"
    segments: tuple[Segment, ...] = (DEFAULT_SEGMENT,)
    reassignment: Reassignment = Reassignment.KEEP
    lateness: Lateness = Lateness()
    marketing: MarketingGoals = MarketingGoals(monthly_mqls=3_900)
    """3,900 MQLs a month: the worked example ($500k quota, $2k deals, 23% win rate...)."""
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    calling_hours: CallingHours | None = None
    """Lead-local calling hours (None: deadlines are not moved for the lead's time zone)."""

    def follows_people(self) -> bool:
        """Whether any rule reads owners' availability (the engine then keeps who owns what)."""
        return any(
            rule is not None and rule.owner_away is not OwnerAway.TEAM_CALENDAR
            for s in self.segments
            for rule in (s.first_touch, s.attempts, s.disposition)
        )

    def segment_for(self, fields: Mapping[str, str | None]) -> Segment:
        """First matching segment; the last one is the catch-all."""
        for segment in self.segments:
            if segment.matches(fields):
                return segment
        return self.segments[-1]

    def with_first_touch(self, within_ms: int, warn_fraction: float) -> Policy:
        """The same policy with every segment's first-touch target replaced (env overrides);
        a segment that switched first touch off keeps it off."""
        segments = tuple(
            replace(
                s,
                first_touch=replace(s.first_touch, within_ms=within_ms, warn=WarnAt(warn_fraction))
                if s.first_touch is not None
                else None,
            )
            for s in self.segments
        )
        return replace(self, segments=segments)
