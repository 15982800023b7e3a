"""SLA policy files (YAML) -> the core's :class:`Policy`, with errors that point at a line.

Sales-ops engineers edit these files by hand, so every mistake (a typo in a key,
``90x`` for a duration, a calendar that does not exist) is refused when the file
is loaded, never discovered as a wrong deadline weeks later. The contract, by
example (``policies/example.yaml`` is a complete one with comments)::

    version: "2026-11"                 # required text; travels in every breach
    reassignment: keep                 # keep (default) | restart
    lateness: {max_late: 30d, max_future: 5m}
    calendars:                         # named business calendars, shared by the rules
      ny-business:
        timezone: America/New_York     # required, IANA
        hours:                         # weekday: "HH:MM-HH:MM" or a list; missing day = closed;
          mon: ["09:00-18:00"]         # close at "24:00" for midnight; hours left out = 24/7
          wed: ["09:00-12:00", "13:00-18:00"]
        holidays: [2026-11-26, 2026-12-25]           # local dates, closed all day
        pauses:                                      # absolute windows, the clock stops inside
          - {from: "2026-11-10T12:00:00Z", to: "2026-11-10T15:00:00Z", reason: CRM outage}
    segments:                          # first match wins; only the last has no match (default)
      - name: enterprise
        match: {tier: [enterprise, strategic], region: na}   # source, segment, tier, region,
        first_touch:                                         # persona, team: a value or a list
          {within: 1h, calendar: ny-business, warn_at: 0.75, compliance_target: 0.9}
        attempts:
          ladder: [{attempts: 3, within: 14d}, {attempts: 5, within: 28d}]
          min_spacing: 1h
          warn_before: 2d
          pause_on: [waiting_on_prospect, meeting_booked]   # statuses that stop the clock
          touches: {channels: [call, email], min_call_duration: 30s, automated: false}
        disposition: {within: 48h, calendar: ny-business}
      - name: default
        attempts: off                  # a rule can be switched off
    marketing: {timezone: America/New_York, monthly_mqls: 3900, by_source: {web_form: 2000},
                by_segment: {smb: 2500}, persona_weights: {ceo: 100}, default_weight: 10}

Durations are ``90s``, ``45m``, ``1h30m``, ``2d``, ``1w``. A rule warns at ``warn_at``
(a fraction of the target, ``off`` for no warning) or ``warn_before`` (a duration
before the deadline), never both. Whatever a file leaves out takes the defaults of
:mod:`stream_sla.sla.policy` (the textbook agreement); a rule without ``calendar``
runs 24/7; a file without ``marketing`` sets no marketing goals. Every problem
raises :class:`ConfigError` naming file, line, the path inside the file and what
would be valid, e.g.
``policy.yaml:14: segments[2].first_touch.within: '90x' is not a duration (use e.g. ...)``.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from stream_sla import yamlfile
from stream_sla.sla.availability import OwnerAway
from stream_sla.sla.calendar import WEEKDAYS, Calendar, Pause
from stream_sla.sla.calling_hours import CallingHours, RegionHours
from stream_sla.sla.durations import format_duration_ms, parse_duration_ms
from stream_sla.sla.events import CLOSING_STATUSES, Channel, LeadStatus, Outcome
from stream_sla.sla.policy import (
    MATCH_FIELDS,
    NO_WARNING,
    AttemptsRule,
    DispositionRule,
    FirstTouchRule,
    Lateness,
    MarketingGoals,
    Policy,
    Reassignment,
    Rung,
    Segment,
    Touches,
    WarnAt,
)

__all__ = ["load_policy"]


def load_policy(path: Path) -> Policy:
    """The policy in ``path``; raises :class:`yamlfile.ConfigError` on any problem in it."""
    document = yamlfile.load(path)
    if document.data is None:
        raise document.error((), "the file is empty: a policy needs version and segments")
    try:
        model = _Policy.model_validate(document.data)
    except ValidationError as exc:
        raise _located(document, exc) from None
    return model.build()


def _problem(text: str, *at: str | int) -> PydanticCustomError:
    """A validation error; ``at`` extends pydantic's location so the line is the culprit's."""
    return PydanticCustomError("policy", "{problem}", {"problem": text, "at": at})


def _located(document: yamlfile.YamlDocument, exc: ValidationError) -> yamlfile.ConfigError:
    """The first error, at the line of the value it is about (``[key]``: a bad mapping key)."""
    error = exc.errors()[0]
    at = (error.get("ctx") or {}).get("at", ())
    location = tuple(part for part in error["loc"] if part != "[key]") + tuple(at)
    if error["type"] == "policy":
        problem = error["msg"]
    elif error["type"] == "missing":
        problem = _REQUIRED.get(str(location[-1]), "required")
    else:
        problem = f"{error['input']!r}: {error['msg']}"
    return document.error(location, problem)


_REQUIRED = {
    "version": 'required: the version of these targets, e.g. version: "2026-11"',
    "segments": "required: a list of segments, the last one (without match) the default",
    "name": "required: a name for the segment, e.g. name: enterprise",
    "timezone": "required: an IANA time zone, e.g. America/New_York",
    "attempts": "required: how many attempts, e.g. {attempts: 3, within: 14d}",
    "within": "required: by when, e.g. {attempts: 3, within: 14d}",
    "from": 'required: the start of the pause, e.g. from: "2026-11-10T12:00:00Z"',
    "to": 'required: the end of the pause, e.g. to: "2026-11-10T15:00:00Z"',
}


# Scalars: each validator says what is wrong and what would be valid.


def _text(value: Any, *at: str | int) -> str:
    if isinstance(value, bool):
        raise _problem(f"{value} is an unquoted yes/no/on/off: put the text in quotes", *at)
    if not isinstance(value, str):
        raise _problem(f'{value} is not text: put it in quotes ("{value}")', *at)
    if not value.strip():
        raise _problem("must not be empty", *at)
    return value


def _duration(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _problem(f"{value} has no unit (write e.g. {value}s, {value}m, {value}h or {value}d)")
    try:
        return parse_duration_ms(value if isinstance(value, str) else repr(value))
    except ValueError as exc:
        raise _problem(str(exc)) from None


def _positive(ms: int) -> int:
    if ms <= 0:
        raise _problem("must be longer than 0 (use e.g. 90s, 45m, 1h30m, 2d)")
    return ms


def _warn_at(value: Any) -> float | str:
    if value is False or value == "off":
        return "off"
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1:
        return float(value)
    raise _problem(f"{value!r} is not a fraction between 0 and 1 (e.g. 0.75) or off")


def _share(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1:
        return float(value)
    raise _problem(f"{value!r} is not a share of leads in (0, 1] (e.g. 0.9 for 90%)")


def _zone(value: Any) -> str:
    name = _text(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, e.g. "America"
        raise _problem(f"{name!r} is not an IANA time zone (e.g. America/New_York, UTC)") from None
    return name


def _instant(value: Any) -> int:
    """Epoch ms of a date-time with an offset (YAML reads an unquoted one as a datetime)."""
    moment = value
    if isinstance(value, str):
        with suppress(ValueError):
            moment = datetime.fromisoformat(value)
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise _problem(f"{value!r} is not a date-time with offset like 2026-11-10T12:00:00Z")
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _local_date(value: Any) -> date:
    if isinstance(value, str):
        with suppress(ValueError):
            return date.fromisoformat(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise _problem(f"{value!r} is not a date like 2026-12-25")


_RANGE = re.compile(r"(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)")
_MIDNIGHT = 24 * 60


def _opening(value: Any) -> tuple[time, time]:
    """``"09:00-18:00"``; a ``24:00`` close is ``time(0)``, which the calendar reads as midnight."""
    found = _RANGE.fullmatch(value.strip()) if isinstance(value, str) else None
    if found and int(found[2]) < 60 and int(found[4]) < 60:
        opens = int(found[1]) * 60 + int(found[2])
        closes = int(found[3]) * 60 + int(found[4])
        if opens < closes <= _MIDNIGHT:
            return time(*divmod(opens, 60)), time(*divmod(closes % _MIDNIGHT, 60))
    raise _problem(
        f"{value!r} is not an opening range like '09:00-18:00'"
        " (HH:MM-HH:MM, opening before closing, 24:00 for midnight)"
    )


def _pause_statuses(value: Any) -> frozenset[str]:
    """Statuses a rule's clock stops on: known, and not closing (those end the cycle)."""
    listed = value if isinstance(value, list) else [value]
    pausable = [s.value for s in LeadStatus if s not in CLOSING_STATUSES]
    for i, status in enumerate(listed):
        if status not in pausable:
            raise _problem(
                f"{status!r} is not a status that can pause (use {', '.join(pausable)})", i
            )
    return frozenset(listed)


def _owner_away(value: Any) -> OwnerAway:
    try:
        return OwnerAway(value)
    except ValueError:
        known = ", ".join(choice.value for choice in OwnerAway)
        raise _problem(f"{value!r} is not a choice for owner_away (use {known})") from None


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _apart(ranges: tuple[tuple[time, time], ...]) -> tuple[tuple[time, time], ...]:
    """Sorted and disjoint: the calendar would count an overlap's open time twice."""
    ordered = tuple(sorted(ranges))
    for (_, closes), (opens, _) in pairwise(ordered):
        if closes == time(0) or closes > opens:
            raise _problem(f"opening ranges overlap around {opens:%H:%M}: give each time once")
    return ordered


def _match(value: Any) -> tuple[tuple[str, frozenset[str]], ...]:
    fields = ", ".join(MATCH_FIELDS)
    if not isinstance(value, dict) or not value:
        raise _problem(f"expected a mapping of at least one field: value or [values] ({fields})")
    pairs = []
    for name, wanted in value.items():
        if name not in MATCH_FIELDS:
            raise _problem(f"cannot match on {name!r} (use {fields})", name)
        if not isinstance(wanted, list):
            pairs.append((name, frozenset([_text(wanted, name)])))
        elif not wanted:
            raise _problem("no values: this segment could never match", name)
        else:
            pairs.append((name, frozenset(_text(v, name, i) for i, v in enumerate(wanted))))
    return tuple(pairs)


def _switch(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """``off`` switches a rule off (None in the model; YAML reads a bare off as false)."""
    if value is False or value == "off":
        return None
    if not isinstance(value, dict):
        raise _problem(f"{value!r}: expected the rule's settings as a mapping, or off")
    return handler(value)


Text = Annotated[str, BeforeValidator(_text)]
Zone = Annotated[str, BeforeValidator(_zone)]
Duration = Annotated[int, BeforeValidator(_duration)]
PositiveDuration = Annotated[int, BeforeValidator(_duration), AfterValidator(_positive)]
Share = Annotated[float, BeforeValidator(_share)]
WarnFraction = Annotated[float | Literal["off"], BeforeValidator(_warn_at)]
Opening = Annotated[tuple[time, time], BeforeValidator(_opening)]
DayHours = Annotated[tuple[Opening, ...], BeforeValidator(_one_or_many), AfterValidator(_apart)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Match = Annotated[tuple[tuple[str, frozenset[str]], ...], BeforeValidator(_match)]
Count = Annotated[int, Field(gt=0)]
PauseStatuses = Annotated[frozenset[str], BeforeValidator(_pause_statuses)]
OwnerAwayChoice = Annotated[OwnerAway, BeforeValidator(_owner_away)]
Weight = Annotated[float, Field(ge=0)]


# The file's schema. Models hold validated values; build() makes the core's dataclasses.


class _Strict(BaseModel):
    """Unknown keys are errors listing the known ones: a typo must not fall back to a default."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        known = [field.alias or name for name, field in cls.model_fields.items()]
        if not isinstance(data, dict):
            raise _problem(f"expected a mapping of {', '.join(known)}; got {data!r}")
        for key in data:
            if key not in known:
                raise _problem(f"unknown key {key!r} (known: {', '.join(known)})", key)
        return data


class _Rule(_Strict):
    """What every rule has: a calendar, a warning and a compliance target (None: default)."""

    calendar: Text | None = None
    warn_at: WarnFraction | None = None
    warn_before: PositiveDuration | None = None
    compliance_target: Share | None = None
    pause_on: PauseStatuses | None = None
    owner_away: OwnerAwayChoice | None = None
    grace: Duration | None = None

    @model_validator(mode="after")
    def _grace_for_escalation(self) -> Self:
        if self.owner_away is OwnerAway.ESCALATE and self.grace is None:
            raise _problem(
                "owner_away: escalate needs grace: how long the owner may be away before the"
                " re-route, e.g. grace: 30m",
                "owner_away",
            )
        if self.grace is not None and self.owner_away is not OwnerAway.ESCALATE:
            raise _problem("grace only goes with owner_away: escalate", "grace")
        return self

    def _check_warning(self, within_ms: int) -> None:
        if self.warn_at is not None and self.warn_before is not None:
            raise _problem("give warn_at (a fraction of the target) or warn_before, not both")
        if self.warn_before is not None and self.warn_before >= within_ms:
            target = format_duration_ms(within_ms)
            raise _problem(f"must be shorter than the target ({target})", "warn_before")

    def changes(self, calendars: dict[str, Calendar]) -> dict[str, Any]:
        """Only what the file gives: the rest keeps the dataclass defaults."""
        warn: WarnAt | None = None
        if self.warn_at == "off":
            warn = NO_WARNING
        elif isinstance(self.warn_at, float):
            warn = WarnAt(self.warn_at)
        elif self.warn_before is not None:
            warn = WarnAt(fraction=None, before_ms=self.warn_before)
        given = {
            "calendar": calendars[self.calendar] if self.calendar else None,
            "warn": warn,
            "compliance_target": self.compliance_target,
            "pause_on": self.pause_on,
            "owner_away": self.owner_away,
            "grace_ms": self.grace,
        }
        return {key: value for key, value in given.items() if value is not None}


class _Deadline(_Rule):
    """First touch and disposition: one target counted from hand-off."""

    default_within_ms: ClassVar[int]
    within: PositiveDuration | None = None

    @model_validator(mode="after")
    def _warning_fits(self) -> Self:
        self._check_warning(self.within or self.default_within_ms)
        return self

    def changes(self, calendars: dict[str, Calendar]) -> dict[str, Any]:
        within = {} if self.within is None else {"within_ms": self.within}
        return super().changes(calendars) | within


class _Touches(_Strict):
    """What counts as a contact attempt; left out: every channel and outcome, no automated."""

    channels: list[Channel] | None = None
    outcomes: list[Outcome] | None = None
    min_call_duration: Duration | None = None
    automated: bool | None = None

    def build(self) -> Touches:
        return Touches(
            channels=None if self.channels is None else frozenset(self.channels),
            outcomes=None if self.outcomes is None else frozenset(self.outcomes),
            min_call_ms=self.min_call_duration or 0,
            automated=bool(self.automated),
        )


class _FirstTouch(_Deadline):
    default_within_ms = FirstTouchRule().within_ms
    touches: _Touches | None = None

    def changes(self, calendars: dict[str, Calendar]) -> dict[str, Any]:
        touches = {} if self.touches is None else {"touches": self.touches.build()}
        return super().changes(calendars) | touches


class _Disposition(_Deadline):
    default_within_ms = DispositionRule().within_ms


class _Rung(_Strict):
    attempts: Count
    within: PositiveDuration


class _Attempts(_Rule):
    ladder: list[_Rung] | None = None
    min_spacing: Duration | None = None
    touches: _Touches | None = None

    @field_validator("ladder")
    @classmethod
    def _climbs(cls, ladder: list[_Rung] | None) -> list[_Rung] | None:
        if ladder is not None and not ladder:
            raise _problem("give at least one rung, e.g. [{attempts: 3, within: 14d}]")
        for i, (before, rung) in enumerate(pairwise(ladder or [])):
            if rung.attempts <= before.attempts or rung.within <= before.within:
                raise _problem(
                    "each rung needs more attempts within a longer time than the one before", i + 1
                )
        return ladder

    @model_validator(mode="after")
    def _warning_fits(self) -> Self:
        first = self.ladder[0].within if self.ladder else AttemptsRule().ladder[0].within_ms
        self._check_warning(first)
        return self

    def changes(self, calendars: dict[str, Calendar]) -> dict[str, Any]:
        given = super().changes(calendars)
        if self.ladder is not None:
            given["ladder"] = tuple(Rung(r.attempts, r.within) for r in self.ladder)
        if self.min_spacing is not None:
            given["min_spacing_ms"] = self.min_spacing
        if self.touches is not None:
            given["touches"] = self.touches.build()
        return given


_RULES = ("first_touch", "attempts", "disposition")


class _Segment(_Strict):
    name: Text
    match: Match | None = None
    first_touch: Annotated[_FirstTouch | None, WrapValidator(_switch)] = _FirstTouch()
    attempts: Annotated[_Attempts | None, WrapValidator(_switch)] = _Attempts()
    disposition: Annotated[_Disposition | None, WrapValidator(_switch)] = _Disposition()

    def build(self, calendars: dict[str, Calendar]) -> Segment:
        ft, at, dp = self.first_touch, self.attempts, self.disposition
        return Segment(
            self.name,
            self.match or (),
            None if ft is None else replace(FirstTouchRule(), **ft.changes(calendars)),
            None if at is None else replace(AttemptsRule(), **at.changes(calendars)),
            None if dp is None else replace(DispositionRule(), **dp.changes(calendars)),
        )


class _Pause(_Strict):
    from_: Annotated[int, BeforeValidator(_instant)] = Field(alias="from")
    to: Annotated[int, BeforeValidator(_instant)]
    reason: str = ""

    @model_validator(mode="after")
    def _forward(self) -> Self:
        if self.to <= self.from_:
            raise _problem("must be after 'from'", "to")
        return self


class _Calendar(_Strict):
    timezone: Zone
    hours: dict[Weekday, DayHours] | None = None
    holidays: list[Annotated[date, BeforeValidator(_local_date)]] = []
    pauses: list[_Pause] = []

    @field_validator("hours")
    @classmethod
    def _opens(cls, hours: dict[str, Any] | None) -> dict[str, Any] | None:
        if hours is not None and not any(hours.values()):
            raise _problem("never open: give at least one day's hours (leave hours out for 24/7)")
        return hours

    def build(self, name: str) -> Calendar:
        hours: dict[int, tuple[tuple[time, time], ...]] | None = None
        if self.hours is not None:
            hours = {WEEKDAYS.index(day): ranges for day, ranges in self.hours.items() if ranges}
        elif self.holidays:  # 24/7 but closed on holidays: Calendar ignores holidays without hours
            hours = {day: ((time(0), time(0)),) for day in range(len(WEEKDAYS))}
        pauses = tuple(Pause(p.from_, p.to, p.reason) for p in self.pauses)
        return Calendar(name, self.timezone, hours, frozenset(self.holidays), pauses)


def _every_day(value: Any) -> Any:
    """Calling hours as one range (or list) for every day, or per weekday like a calendar."""
    if isinstance(value, str | list):
        return dict.fromkeys(WEEKDAYS, value)
    return value


CallingDays = Annotated[dict[Weekday, DayHours], BeforeValidator(_every_day)]


def _weekdays(hours: dict[Any, tuple[tuple[time, time], ...]]) -> tuple[Any, ...]:
    return tuple(sorted((WEEKDAYS.index(day), ranges) for day, ranges in hours.items() if ranges))


class _Region(_Strict):
    timezone: Zone | None = None
    hours: CallingDays | None = None

    def build(self) -> RegionHours:
        return RegionHours(self.timezone, None if self.hours is None else _weekdays(self.hours))


class _CallingHours(_Strict):
    """Lead-local permitted calling hours: 08:00-21:00 every day unless given."""

    hours: CallingDays | None = None
    regions: dict[str, _Region] = {}

    @field_validator("hours")
    @classmethod
    def _opens(cls, hours: dict[str, Any] | None) -> dict[str, Any] | None:
        if hours is not None and not any(hours.values()):
            raise _problem("never permitted: give at least one day's hours, e.g. 08:00-21:00")
        return hours

    def build(self) -> CallingHours:
        regions = {name: region.build() for name, region in self.regions.items()}
        if self.hours is None:
            return CallingHours(regions=regions)
        return CallingHours(_weekdays(self.hours), regions)


_LATENESS, _GOALS = Lateness(), MarketingGoals()


class _Lateness(_Strict):
    max_late: Duration = _LATENESS.max_late_ms
    max_future: Duration = _LATENESS.max_future_ms


class _Marketing(_Strict):
    timezone: Zone = _GOALS.timezone
    monthly_mqls: Count | None = _GOALS.monthly_mqls
    by_source: dict[str, Count] = {}
    by_segment: dict[str, Count] = {}
    persona_weights: dict[str, Weight] = {}
    default_weight: Weight = _GOALS.default_weight

    def build(self) -> MarketingGoals:
        return MarketingGoals(
            self.monthly_mqls,
            tuple(self.by_source.items()),
            tuple(self.by_segment.items()),
            tuple(self.persona_weights.items()),
            self.default_weight,
            self.timezone,
        )


class _Policy(_Strict):
    version: Text
    reassignment: Reassignment = Reassignment.KEEP
    lateness: _Lateness = _Lateness()
    calendars: dict[str, _Calendar] = {}
    segments: list[_Segment]
    marketing: _Marketing = _Marketing()
    calling_hours: _CallingHours | None = None

    @field_validator("segments")
    @classmethod
    def _ordered(cls, segments: list[_Segment]) -> list[_Segment]:
        """First match wins, so only the last may match everything; names must be unique."""
        if not segments:
            raise _problem("give at least one segment (the last, without match, is the default)")
        last = len(segments) - 1
        seen: dict[str, int] = {}
        for i, segment in enumerate(segments):
            if segment.match is None and i != last:
                raise _problem(
                    f"segment {segment.name!r} has no match: only the last segment"
                    " (the default for every other lead) may leave it out",
                    i,
                )
            if segment.name in seen:
                raise _problem(
                    f"{segment.name!r} is already the name of segments[{seen[segment.name]}]",
                    i,
                    "name",
                )
            seen[segment.name] = i
        if segments[last].match is not None:
            raise _problem(
                f"the last segment ({segments[last].name!r}) is the default for every other lead:"
                " remove its match, or add a segment without match after it",
                last,
                "match",
            )
        return segments

    @model_validator(mode="after")
    def _calendars_exist(self) -> Self:
        known = ", ".join(self.calendars) or "none defined under calendars"
        for i, segment in enumerate(self.segments):
            for rule_name in _RULES:
                rule = getattr(segment, rule_name)
                if rule is not None and rule.calendar not in (None, *self.calendars):
                    raise _problem(
                        f"unknown calendar {rule.calendar!r} (known: {known})",
                        "segments",
                        i,
                        rule_name,
                        "calendar",
                    )
        return self

    def build(self) -> Policy:
        """The core's policy; one shared :class:`Calendar` per name."""
        calendars = {name: calendar.build(name) for name, calendar in self.calendars.items()}
        return Policy(
            self.version,
            tuple(segment.build(calendars) for segment in self.segments),
            self.reassignment,
            Lateness(self.lateness.max_late, self.lateness.max_future),
            self.marketing.build(),
            calendars,
            None if self.calling_hours is None else self.calling_hours.build(),
        )
