"""Lead-local calling hours: nobody is expected to call a lead at 23:00 in the lead's time zone.

For a lead whose time zone is known (the ``timezone`` of lead-created, or the time zone the
policy gives the lead's ``region``), first-touch and attempts deadlines that would fall
outside the lead's permitted calling hours (08:00-21:00 local by default, per region in the
policy) move into the next permitted window. The clock time that ran after the window
closed (or since the hand-off, if that was later) carries into the next window: a lead
handed over at 20:30 local with one hour to go is due at 08:30 the next morning, one handed
over at 23:00 at 09:00. Warnings are not moved (a reminder at night is the rep's business);
the deadline they announce is. DST is the calendar's: 08:00 stays 08:00 local.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import lru_cache

from stream_sla.sla.calendar import Calendar

DayHours = tuple[tuple[time, time], ...]
Hours = Mapping[int, DayHours]
EVERY_DAY_8_TO_21: dict[int, DayHours] = {day: ((time(8), time(21)),) for day in range(7)}


@dataclass(frozen=True, slots=True)
class RegionHours:
    """A region's calling hours and the time zone of its leads that give none."""

    timezone: str | None = None
    hours: tuple[tuple[int, DayHours], ...] | None = None
    """Weekday (0 = Monday) -> local ranges; None: the policy's default hours."""


@dataclass(frozen=True, slots=True)
class CallingHours:
    """The policy's ``calling_hours``: default local hours, and per-region overrides."""

    hours: tuple[tuple[int, DayHours], ...] = tuple(EVERY_DAY_8_TO_21.items())
    regions: Mapping[str, RegionHours] = field(default_factory=dict)

    def calendar_for(self, timezone: str | None, region: str | None) -> Calendar | None:
        """The lead's calling-hours calendar; None when its time zone is unknown."""
        found = self.regions.get(region) if region is not None else None
        zone = timezone or (found.timezone if found is not None else None)
        if zone is None:
            return None
        hours = found.hours if found is not None and found.hours is not None else self.hours
        return _calendar(zone, hours)


@lru_cache(maxsize=1024)
def _calendar(zone: str, hours: tuple[tuple[int, DayHours], ...]) -> Calendar:
    return Calendar(f"calling hours {zone}", zone, dict(hours))


def move_into(calling: Calendar, deadline: int, since: int) -> int:
    """``deadline`` if a call just before it is permitted; else moved into the next window,
    carrying the time that ran after the last window closed (or since ``since``)."""
    if _permitted(calling, deadline - 1):
        return deadline
    carried_from = max(since, _last_close(calling, deadline) or since)
    return calling.deadline(carried_from, deadline - carried_from)


def _permitted(calling: Calendar, instant: int) -> bool:
    return any(
        low <= instant < high
        for day in (calling.local_date(instant) - timedelta(days=1), calling.local_date(instant))
        for low, high in calling.day_intervals(day)
    )


def _last_close(calling: Calendar, moment: int) -> int | None:
    """The end of the last permitted window closed at or before ``moment`` (a week back)."""
    day = calling.local_date(moment)
    for back in range(8):
        for _low, high in reversed(calling.day_intervals(day - timedelta(days=back))):
            if high <= moment:
                return high
    return None
