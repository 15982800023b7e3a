"""The people directory: who owns a lead, on which team, who their manager is, how to reach them.

CRMs name a lead's owner by an id (HubSpot ``hubspot_owner_id`` 12345678, Salesforce
``OwnerId`` 005..., Pipedrive ``owner_id`` 42); the SLA needs the team for its
segments and dashboards, and reminders and escalations need a name, an email, a chat
handle, a time zone and the manager chain. One file holds all of it, kept by RevOps
next to the policy. Two shapes are accepted, chosen by the file's suffix.

YAML (``people.yaml``)::

    timezone: America/New_York          # optional default for people without one (else UTC)
    people:
      - id: "12345678"                  # the CRM's owner id, as text (numbers are accepted)
        name: Ada Byron
        team: enterprise-east
        manager: "100"                  # optional: the manager's id, listed in this file
        email: ada@example.com          # optional
        chat: "@ada"                    # optional: Slack member id or handle
        timezone: Europe/London         # optional IANA zone
        hours: "mon-fri 09:00-17:30"    # optional working hours, local to the person's zone:
                                        # "days HH:MM-HH:MM[, HH:MM-HH:MM]; days ..." or a
                                        # mapping {mon: "09:00-17:30", ...}; none: any time

CSV (``people.csv``), the shape of a CRM user export: a header row, then one person a
row. Headers are matched without regard to case, spaces or underscores, and the
usual export names are understood (``User ID``/``Owner ID``/``Id``; ``First Name`` +
``Last Name`` or ``Name``; ``Team``/``Primary Team``; ``Manager``/``Manager ID``/
``ManagerId``; ``Email``; ``Chat``/``Slack``/``Slack ID``; ``Time Zone``/
``TimeZoneSidKey``; ``Working Hours``/``Hours`` in the text form above). Unknown
columns are ignored: an export has many.

Working hours and absences (the ``crm.owner-availability`` topic) are what a policy rule
with ``owner_away`` reads: :meth:`PeopleDirectory.working_hours`.

Every mistake raises :class:`~stream_sla.yamlfile.ConfigError` naming file, line, the
field and what to write instead, like the policy loader: a duplicate id, a manager
who is not in the file, a manager chain that loops, an unknown time zone.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stream_sla import yamlfile
from stream_sla.sla.calendar import Calendar
from stream_sla.yamlfile import ConfigError

__all__ = ["PeopleDirectory", "Person", "load_people"]

DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True, slots=True)
class Person:
    """One CRM user; ``manager`` is another person's ``owner_id`` (None at the top)."""

    owner_id: str
    name: str
    team: str
    manager: str | None = None
    email: str | None = None
    chat: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    hours: tuple[tuple[int, tuple[tuple[time, time], ...]], ...] | None = None
    """Working hours per weekday (0 = Monday), local to ``timezone``; None: not known."""


class PeopleDirectory:
    """Lookups by owner id and team; built only through :func:`load_people` or from people.

    The constructor checks what the loaders check (unique ids, known managers, no
    loops) so a directory can never hold a manager chain that does not end.
    """

    def __init__(self, people: list[Person] | tuple[Person, ...] = ()) -> None:
        by_id: dict[str, Person] = {}
        for person in people:
            if person.owner_id in by_id:
                raise ValueError(f"owner id {person.owner_id!r} is listed twice")
            by_id[person.owner_id] = person
        self._by_id = by_id
        for person in people:
            if person.manager is not None and person.manager not in by_id:
                raise ValueError(f"{person.owner_id}: manager {person.manager!r} is not listed")
            if _loops(by_id, person.owner_id):
                raise ValueError(f"{person.owner_id}: the manager chain loops")

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, owner_id: object) -> bool:
        return owner_id in self._by_id

    def __iter__(self) -> Iterator[Person]:
        return iter(self._by_id.values())

    def get(self, owner_id: str) -> Person | None:
        """The person with this CRM owner id, or None for an owner nobody listed."""
        return self._by_id.get(owner_id)

    def team_of(self, owner_id: str) -> str | None:
        person = self._by_id.get(owner_id)
        return person.team if person else None

    def manager_chain(self, owner_id: str) -> tuple[Person, ...]:
        """The manager, their manager, ... up to the top; empty for an unknown owner."""
        chain: list[Person] = []
        person = self._by_id.get(owner_id)
        while person is not None and person.manager is not None:
            person = self._by_id[person.manager]
            chain.append(person)
        return tuple(chain)

    def members(self, team: str) -> tuple[Person, ...]:
        """The team's people ordered by owner id."""
        return tuple(p for p in self.people() if p.team == team)

    def people(self) -> tuple[Person, ...]:
        """Everyone, ordered by owner id: a stable order for label sets and reports."""
        return tuple(sorted(self._by_id.values(), key=lambda p: p.owner_id))

    def owner_ids(self) -> tuple[str, ...]:
        """Known reps' owner ids, sorted (the bounded label set of issue 10)."""
        return tuple(sorted(self._by_id))

    def working_hours(self) -> dict[str, Calendar]:
        """Each person with working hours as a calendar in their own zone (DST included)."""
        return {
            p.owner_id: Calendar(f"hours of {p.owner_id}", p.timezone, dict(p.hours))
            for p in self._by_id.values()
            if p.hours is not None
        }

    def teams(self) -> tuple[str, ...]:
        """Known teams, sorted."""
        return tuple(sorted({p.team for p in self._by_id.values()}))


def _loops(by_id: Mapping[str, Person], owner_id: str) -> bool:
    seen = {owner_id}
    person = by_id[owner_id]
    while person.manager is not None and person.manager in by_id:
        if person.manager in seen:
            return True
        seen.add(person.manager)
        person = by_id[person.manager]
    return False


def load_people(path: Path) -> PeopleDirectory:
    """The directory in ``path`` (``.yaml``/``.yml`` or ``.csv``); ConfigError on any problem."""
    if path.suffix.lower() == ".csv":
        return _load_csv(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        return _load_yaml(path)
    raise ConfigError(path, None, "", "a people directory is a .yaml, .yml or .csv file")


# -- one person's fields, whichever file shape they came from --------------------------------

Fail = Callable[[str, str], ConfigError]
"""(field, problem) -> the located error for the row or entry being read."""

_FIELDS = ("id", "name", "team", "manager", "email", "chat", "timezone", "hours")
_REQUIRED = {
    "id": 'required: the CRM\'s owner id, e.g. id: "12345678"',
    "name": "required: the person's name, e.g. name: Ada Byron",
    "team": "required: the team the SLA reports on, e.g. team: enterprise-east",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _person(fields: Mapping[str, Any], default_timezone: str, fail: Fail) -> Person:
    values: dict[str, str | None] = {}
    hours = _hours(fields.get("hours"), partial(fail, "hours"))
    for field in _FIELDS[:-1]:
        raw = fields.get(field)
        if raw is None or raw == "":
            values[field] = None
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise fail(field, f"{raw!r} is not text; write a plain value, e.g. {field}: text")
        values[field] = str(raw).strip() or None
    for field, problem in _REQUIRED.items():
        if values[field] is None:
            raise fail(field, problem)
    email = values["email"]
    if email is not None and not _EMAIL.match(email):
        raise fail("email", f"{email!r} is not an email address (write e.g. ada@example.com)")
    timezone = values["timezone"] or default_timezone
    if not _is_timezone(timezone):
        raise fail("timezone", f"{timezone!r} is not an IANA time zone (e.g. America/New_York)")
    return Person(
        owner_id=str(values["id"]),
        name=str(values["name"]),
        team=str(values["team"]),
        manager=values["manager"],
        email=email,
        chat=values["chat"],
        timezone=timezone,
        hours=hours,
    )


_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_EXAMPLE = 'write e.g. "mon-fri 09:00-17:30; sat 10:00-14:00"'
_RANGE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def _hours(raw: Any, fail: Callable[[str], ConfigError]) -> tuple[Any, ...] | None:
    """Working hours from text ("mon-fri 09:00-17:30; sat 10:00-14:00") or a weekday mapping."""
    if raw is None or raw == "":
        return None
    days: dict[int, list[tuple[time, time]]] = {}
    if isinstance(raw, dict):
        parts = [(str(day), value) for day, value in raw.items()]
    elif isinstance(raw, str):
        parts = []
        for chunk in raw.split(";"):
            if chunk.strip():
                head, _, ranges = chunk.strip().partition(" ")
                parts.append((head, ranges))
    else:
        raise fail(f"{raw!r} is not working hours; {_HOURS_EXAMPLE}")
    for head, ranges in parts:
        for day in _days(head, fail):
            listed = ranges if isinstance(ranges, list) else str(ranges).split(",")
            for text in listed:
                days.setdefault(day, []).append(_range(str(text).strip(), fail))
    if not days:
        raise fail(f"no working hours in {raw!r}; {_HOURS_EXAMPLE}")
    for day, opening in days.items():
        opening.sort()
        for (_, closes), (opens, _) in pairwise(opening):
            if closes == time(0) or closes > opens:
                raise fail(f"{_WEEKDAY_NAMES[day]}: ranges overlap; give each time once")
    return tuple(sorted((day, tuple(opening)) for day, opening in days.items()))


def _days(text: str, fail: Callable[[str], ConfigError]) -> list[int]:
    low, _, high = text.strip().lower().partition("-")
    if low not in _WEEKDAY_NAMES or (high and high not in _WEEKDAY_NAMES):
        raise fail(f"{text!r} is not a weekday or range of weekdays (mon, ..., sun: mon-fri)")
    first = _WEEKDAY_NAMES.index(low)
    last = _WEEKDAY_NAMES.index(high) if high else first
    if last < first:
        raise fail(f"{text!r} runs backwards; write the days in order, e.g. mon-fri")
    return list(range(first, last + 1))


def _range(text: str, fail: Callable[[str], ConfigError]) -> tuple[time, time]:
    found = _RANGE.match(text.replace(" ", ""))
    if found:
        opens = int(found[1]) * 60 + int(found[2])
        closes = int(found[3]) * 60 + int(found[4])
        if int(found[2]) < 60 and int(found[4]) < 60 and opens < closes <= 24 * 60:
            return time(*divmod(opens, 60)), time(*divmod(closes % (24 * 60), 60))
    raise fail(
        f"{text!r} is not a range like 09:00-17:30 (opening before closing); {_HOURS_EXAMPLE}"
    )


def _is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _checked(people: list[Person], fail_at: Callable[[int, str, str], ConfigError]) -> None:
    """Whole-file checks; ``fail_at(index, field, problem)`` locates the offending entry."""
    first: dict[str, int] = {}
    for index, person in enumerate(people):
        if person.owner_id in first:
            raise fail_at(
                index,
                "id",
                f"{person.owner_id!r} is already listed (entry {first[person.owner_id] + 1});"
                " each owner id once",
            )
        first[person.owner_id] = index
    by_id = {p.owner_id: p for p in people}
    for index, person in enumerate(people):
        if person.manager is not None and person.manager not in by_id:
            raise fail_at(
                index,
                "manager",
                f"{person.manager!r} is not an id in this file; list the manager too"
                " or leave manager empty",
            )
    for index, person in enumerate(people):
        if _loops(by_id, person.owner_id):
            raise fail_at(
                index,
                "manager",
                f"the manager chain from {person.owner_id!r} comes back to itself;"
                " someone at the top has no manager",
            )


def _load_yaml(path: Path) -> PeopleDirectory:
    document = yamlfile.load(path)
    data = document.data
    if not isinstance(data, dict) or "people" not in data:
        raise document.error((), "expected a mapping with a `people:` list of people")
    unknown = sorted(str(k) for k in data if k not in ("people", "timezone"))
    if unknown:
        raise document.error((unknown[0],), "unknown key; a directory has people and timezone")
    default_timezone = data.get("timezone") or DEFAULT_TIMEZONE
    if not isinstance(default_timezone, str) or not _is_timezone(default_timezone):
        raise document.error(
            ("timezone",), f"{default_timezone!r} is not an IANA time zone (e.g. Europe/Paris)"
        )
    entries = data["people"]
    if not isinstance(entries, list) or not entries:
        raise document.error(("people",), "expected a list of people (- id: ..., name: ...)")
    people: list[Person] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise document.error(("people", index), "expected a person: id, name, team, ...")
        for key in entry:
            if key not in _FIELDS:
                raise document.error(
                    ("people", index, str(key)), f"unknown field; use {', '.join(_FIELDS)}"
                )
        people.append(
            _person(
                entry,
                default_timezone,
                partial(_entry_error, document, index),
            )
        )
    _checked(people, partial(_entry_error, document))
    return PeopleDirectory(people)


def _entry_error(
    document: yamlfile.YamlDocument, index: int, field: str, problem: str
) -> ConfigError:
    return document.error(("people", index, field), problem)


# -- CSV: a CRM user export --------------------------------------------------------------------

_HEADER_ALIASES = {
    "id": ("id", "ownerid", "userid", "hubspotownerid", "owner"),
    "name": ("name", "fullname", "username"),
    "first": ("firstname",),
    "last": ("lastname",),
    "team": ("team", "teamname", "primaryteam"),
    "manager": ("manager", "managerid", "manageruserid", "managerownerid"),
    "email": ("email", "emailaddress"),
    "chat": ("chat", "chathandle", "slack", "slackid", "slackhandle", "slackmemberid"),
    "timezone": ("timezone", "tz", "timezonesidkey"),
    "hours": ("hours", "workinghours", "businesshours", "officehours"),
}


def _header_key(header: str) -> str | None:
    normal = re.sub(r"[\s_\-]", "", header).lower()
    for field, aliases in _HEADER_ALIASES.items():
        if normal in aliases:
            return field
    return None


def _load_csv(path: Path) -> PeopleDirectory:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(path, None, "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "", "not UTF-8 text; export the CSV as UTF-8") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise ConfigError(path, 1, "", "the file is empty: write a header row, e.g. id,name,team")
    columns: dict[str, int] = {}
    for position, title in enumerate(header):
        field = _header_key(title)
        if field is not None and field not in columns:
            columns[field] = position
    has_name = "name" in columns or "first" in columns or "last" in columns
    for field in ("id", "team"):
        if field not in columns:
            raise ConfigError(
                path, 1, "header", f"no {field} column; the header needs id, name and team"
            )
    if not has_name:
        raise ConfigError(
            path, 1, "header", "no name column; add name (or First Name and Last Name)"
        )
    people: list[Person] = []
    lines: list[int] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        fields = {f: row[i] for f, i in columns.items() if i < len(row)}
        if "name" not in fields or not fields["name"].strip():
            joined = " ".join(fields.get(p, "").strip() for p in ("first", "last")).strip()
            fields["name"] = joined
        people.append(
            _person(
                fields,
                DEFAULT_TIMEZONE,
                partial(ConfigError, path, line),
            )
        )
        lines.append(line)
    if not people:
        raise ConfigError(path, 2, "", "no people below the header row")
    _checked(people, lambda index, field, problem: ConfigError(path, lines[index], field, problem))
    return PeopleDirectory(people)
