"""SLA policy files (YAML) -> the core's :class:`Policy`, with errors that point at a line.

The format, by example (``policies/example.yaml`` is a full one with comments)::

    version: "2026-11"                 # required; travels in every breach
    reassignment: keep                 # keep | restart
    lateness: {max_late: 30d, max_future: 5m}
    calendars:
      ny-business:
        timezone: America/New_York
        hours: {mon: ["09:00-18:00"], tue: ["09:00-18:00"], ...}   # a missing day is closed
        holidays: [2026-11-26]
        pauses: [{from: "2026-11-10T12:00:00Z", to: "2026-11-10T15:00:00Z", reason: outage}]
    segments:                          # first match wins; the last one has no match
      - name: enterprise
        match: {tier: [enterprise, strategic], region: na}
        first_touch: {within: 1h, calendar: ny-business, warn_at: 0.75}
        attempts: {ladder: [{attempts: 3, within: 14d}], min_spacing: 1h, warn_before: 2d}
        disposition: {within: 48h, calendar: ny-business}
      - name: default
        first_touch: {within: 1h}
        attempts: off
    marketing: {monthly_mqls: 3900, by_source: {web_form: 2000}, persona_weights: {ceo: 100}}

Every problem raises :class:`ConfigError` naming file, line, the path inside the
file and what would be valid, e.g.
``policy.yaml:14: segments[1].first_touch.within: '90x' is not a duration (use e.g. ...)``.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from stream_sla import yamlfile
from stream_sla.sla.calendar import ALWAYS_OPEN, WEEKDAYS, Calendar, Pause
from stream_sla.sla.durations import parse_duration_ms
from stream_sla.sla.events import parse_timestamp
from stream_sla.sla.policy import MATCH_FIELDS as _MATCH_FIELDS
from stream_sla.sla.policy import (
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
    WarnAt,
)

_HOURS = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"{value!r} has no unit (write e.g. 90s, 45m, 1h, 2d)")
    return parse_duration_ms(str(value))


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _opening_range(text: str) -> str:
    match = _HOURS.match(text)
    if not match or (match[3], match[4]) <= (match[1], match[2]):
        raise ValueError(f"{text!r} is not an opening range like '09:00-18:00'")
    return text


class _Window(_Strict):
    from_: str = Field(alias="from")
    to: str
    reason: str = ""


class _Calendar(_Strict):
    timezone: str
    hours: dict[Weekday, list[Annotated[str, AfterValidator(_opening_range)]]] | None = None
    holidays: list[date] = []
    pauses: list[_Window] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone (e.g. America/New_York)"
            ) from None
        return value


class _Warn(_Strict):
    warn_at: float | Literal["off"] | None = None

    @field_validator("warn_at", mode="before")
    @classmethod
    def _warn_off(cls, value: Any) -> Any:
        return "off" if value is False else value

    warn_before: str | int | None = None

    @field_validator("warn_at")
    @classmethod
    def _fraction(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, float | int) and not 0 < value < 1:
            raise ValueError(f"{value} is not a fraction between 0 and 1 (e.g. 0.75)")
        return value

    def warn(self, default: WarnAt) -> WarnAt:
        if self.warn_at is not None and self.warn_before is not None:
            raise ValueError("give warn_at or warn_before, not both")
        if self.warn_at == "off":
            return NO_WARNING
        if self.warn_before is not None:
            return WarnAt(fraction=None, before_ms=_duration(self.warn_before))
        if isinstance(self.warn_at, float | int):
            return WarnAt(float(self.warn_at))
        return default


class _DeadlineRule(_Warn):
    within: str | int
    calendar: str | None = None
    compliance_target: float = Field(0.9, gt=0, le=1)


class _Rung(_Strict):
    attempts: int = Field(gt=0)
    within: str | int


class _Attempts(_Warn):
    ladder: list[_Rung] = Field(min_length=1)
    min_spacing: str | int | None = None
    calendar: str | None = None
    compliance_target: float = Field(0.9, gt=0, le=1)


class _Segment(_Strict):
    """``off`` switches a rule off (YAML reads a bare off as false: both are accepted)."""

    name: str = Field(min_length=1)
    match: dict[str, str | list[str]] | None = None
    first_touch: _DeadlineRule | Literal["off"] | None = None
    attempts: _Attempts | Literal["off"] | None = None
    disposition: _DeadlineRule | Literal["off"] | None = None

    @field_validator("first_touch", "attempts", "disposition", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        return "off" if value is False else value

    @field_validator("match")
    @classmethod
    def _fields(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for name in value or {}:
            if name not in _MATCH_FIELDS:
                raise ValueError(f"cannot match on {name!r} (use {', '.join(_MATCH_FIELDS)})")
        return value


class _Lateness(_Strict):
    max_late: str | int = "30d"
    max_future: str | int = "5m"


class _Marketing(_Strict):
    timezone: str = "UTC"
    monthly_mqls: int | None = Field(default=None, gt=0)
    by_source: dict[str, int] = {}
    by_segment: dict[str, int] = {}
    persona_weights: dict[str, float] = {}
    default_weight: float = 1.0


class _Policy(_Strict):
    version: str = Field(min_length=1)
    reassignment: Reassignment = Reassignment.KEEP
    lateness: _Lateness = _Lateness()
    calendars: dict[str, _Calendar] = {}
    segments: list[_Segment] = Field(min_length=1)
    marketing: _Marketing = _Marketing()


def load_policy(path: Path) -> Policy:
    document = yamlfile.load(path)
    if not isinstance(document.data, dict):
        raise document.error((), "expected a mapping with version, segments, ...")
    try:
        model = _Policy.model_validate(document.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = _yaml_location(first["loc"])
        problem = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            problem = f"unknown key {location[-1]!r}"
        elif first["type"] == "missing":
            problem = f"{location[-1]!r} is required"
        raise document.error(location, problem) from None
    return _Builder(document).build(model)


def _yaml_location(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Pydantic puts union branch names (``_Attempts``, ``literal['off']``) into locations."""
    kept: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and (part.startswith("_") or "[" in part):
            continue
        kept.append("from" if part == "from" else part)
    return tuple(kept)


class _Builder:
    def __init__(self, document: yamlfile.YamlDocument) -> None:
        self.doc = document
        self.calendars: dict[str, Calendar] = {}

    def build(self, model: _Policy) -> Policy:
        for name, calendar in model.calendars.items():
            self.calendars[name] = self._calendar(name, calendar)
        segments = tuple(
            self._segment(i, s, len(model.segments)) for i, s in enumerate(model.segments)
        )
        lateness = Lateness(
            self._ms(("lateness", "max_late"), model.lateness.max_late),
            self._ms(("lateness", "max_future"), model.lateness.max_future),
        )
        m = model.marketing
        marketing = MarketingGoals(
            monthly_mqls=m.monthly_mqls,
            by_source=tuple(m.by_source.items()),
            by_segment=tuple(m.by_segment.items()),
            persona_weights=tuple(m.persona_weights.items()),
            default_weight=m.default_weight,
            timezone=m.timezone,
        )
        return Policy(
            model.version, segments, model.reassignment, lateness, marketing, self.calendars
        )

    def _ms(self, location: tuple[str | int, ...], text: str | int) -> int:
        try:
            return _duration(text)
        except ValueError as exc:
            raise self.doc.error(location, str(exc)) from None

    def _calendar(self, name: str, c: _Calendar) -> Calendar:
        hours = None
        if c.hours is not None:
            hours = {
                WEEKDAYS.index(day): tuple(_opening(text) for text in ranges)
                for day, ranges in c.hours.items()
            }
        pauses = []
        for i, window in enumerate(c.pauses):
            where = ("calendars", name, "pauses", i)
            try:
                start = parse_timestamp(window.from_, "from")
                end = parse_timestamp(window.to, "to")
            except ValueError as exc:
                raise self.doc.error(where, str(exc).split(": ", 1)[-1]) from None
            if end <= start:
                raise self.doc.error(where, "'to' must be after 'from'")
            pauses.append(Pause(start, end, window.reason))
        return Calendar(name, c.timezone, hours, frozenset(c.holidays), tuple(pauses))

    def _calendar_named(self, location: tuple[str | int, ...], name: str | None) -> Calendar:
        if name is None:
            return ALWAYS_OPEN
        if name not in self.calendars:
            known = ", ".join(sorted(self.calendars)) or "none defined"
            raise self.doc.error(location, f"unknown calendar {name!r} (known: {known})")
        return self.calendars[name]

    def _segment(self, index: int, s: _Segment, count: int) -> Segment:
        where: tuple[str | int, ...] = ("segments", index)
        is_last = index == count - 1
        if s.match is None and not is_last:
            raise self.doc.error(
                where, f"segment {s.name!r} has no match: only the last segment (the default) may"
            )
        if s.match is not None and is_last:
            raise self.doc.error(
                (*where, "match"), "the last segment is the default: it must not have a match"
            )
        match = tuple(
            (name, frozenset([value] if isinstance(value, str) else value))
            for name, value in (s.match or {}).items()
        )
        return Segment(
            s.name,
            match,
            self._first_touch((*where, "first_touch"), s.first_touch),
            self._attempts((*where, "attempts"), s.attempts),
            self._disposition((*where, "disposition"), s.disposition),
        )

    def _warn(self, where: tuple[str | int, ...], rule: _Warn, default: WarnAt) -> WarnAt:
        try:
            return rule.warn(default)
        except ValueError as exc:
            raise self.doc.error(where, str(exc)) from None

    def _first_touch(
        self, where: tuple[str | int, ...], r: _DeadlineRule | str | None
    ) -> FirstTouchRule | None:
        if r == "off":
            return None
        if r is None:
            return FirstTouchRule()
        assert isinstance(r, _DeadlineRule)
        return FirstTouchRule(
            self._ms((*where, "within"), r.within),
            self._calendar_named((*where, "calendar"), r.calendar),
            self._warn(where, r, FirstTouchRule().warn),
            r.compliance_target,
        )

    def _disposition(
        self, where: tuple[str | int, ...], r: _DeadlineRule | str | None
    ) -> DispositionRule | None:
        if r == "off":
            return None
        if r is None:
            return DispositionRule()
        assert isinstance(r, _DeadlineRule)
        return DispositionRule(
            self._ms((*where, "within"), r.within),
            self._calendar_named((*where, "calendar"), r.calendar),
            self._warn(where, r, DispositionRule().warn),
            r.compliance_target,
        )

    def _attempts(
        self, where: tuple[str | int, ...], r: _Attempts | str | None
    ) -> AttemptsRule | None:
        if r == "off":
            return None
        if r is None:
            return AttemptsRule()
        assert isinstance(r, _Attempts)
        rungs: list[Rung] = []
        for i, rung in enumerate(r.ladder):
            within = self._ms((*where, "ladder", i, "within"), rung.within)
            if rungs and (rung.attempts <= rungs[-1].attempts or within <= rungs[-1].within_ms):
                raise self.doc.error(
                    (*where, "ladder", i),
                    "each rung needs more attempts within a longer time than the one before",
                )
            rungs.append(Rung(rung.attempts, within))
        spacing = self._ms((*where, "min_spacing"), r.min_spacing) if r.min_spacing else 0
        return AttemptsRule(
            tuple(rungs),
            spacing,
            self._calendar_named((*where, "calendar"), r.calendar),
            self._warn(where, r, AttemptsRule().warn),
            r.compliance_target,
        )


def _opening(text: str) -> tuple[time, time]:
    match = _HOURS.match(text)
    assert match is not None  # validated
    opens = time(int(match[1]) % 24, int(match[2]))
    closes = time(0) if match[3] == "24" else time(int(match[3]), int(match[4]))
    return opens, closes
