"""Business time: opening hours per weekday in an IANA zone, holidays, and pause windows.

SLA clocks only run while the calendar is open. ``deadline(start, duration)``
walks open intervals forward from ``start`` until ``duration`` of open time has
passed; ``open_between(a, b)`` measures open time. Local opening hours are
converted to UTC per day through ``zoneinfo``, so DST changes move the UTC
instants and never the local hours (a 09:00 opening is 09:00 on both sides of
a DST weekend). Pauses (outages, staffing gaps) are absolute UTC windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_DAYS_SEARCHED = 3 * 366
"""A calendar open less than once in three years is a policy error, not a long wait."""


class CalendarError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Pause:
    start: int
    end: int
    reason: str = ""


@dataclass(frozen=True)
class Calendar:
    """``hours`` maps a weekday index (0 = Monday) to local (open, close) pairs."""

    name: str = "24x7"
    timezone: str = "UTC"
    hours: dict[int, tuple[tuple[time, time], ...]] | None = None
    """None means always open (24/7, only pauses stop the clock)."""
    holidays: frozenset[date] = frozenset()
    pauses: tuple[Pause, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _always_open: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        always = self.hours is None and not self.pauses and not self.holidays
        object.__setattr__(self, "_always_open", always)  # read for every deadline

    def __hash__(self) -> int:
        return hash((self.name, self.timezone, self.holidays, self.pauses))

    @property
    def always_open(self) -> bool:
        return self._always_open

    def deadline(self, start: int, duration: int) -> int:
        """The instant when ``duration`` ms of open time have passed since ``start``."""
        if self._always_open:
            return start + duration
        remaining = duration
        for open_at, close_at in self._open_intervals_from(start):
            begin = max(open_at, start)
            if remaining <= close_at - begin:
                return begin + remaining
            remaining -= close_at - begin
        raise CalendarError(f"calendar {self.name!r} is never open after {start}")

    def open_between(self, start: int, end: int) -> int:
        """Open milliseconds in [start, end)."""
        if end <= start:
            return 0
        if self.always_open:
            return end - start
        total = 0
        for open_at, close_at in self._open_intervals_from(start):
            if open_at >= end:
                break
            total += min(close_at, end) - max(open_at, start)
        return total

    def _open_intervals_from(self, start: int) -> Iterator[tuple[int, int]]:
        """Open intervals ending after ``start``, day by day, for as long as the caller reads."""
        day = self.local_date(start) - timedelta(days=1)
        for _ in range(_MAX_DAYS_SEARCHED):
            for interval in self.day_intervals(day):
                if interval[1] > start:
                    yield interval
            day += timedelta(days=1)

    def day_intervals(self, day: date) -> tuple[tuple[int, int], ...]:
        """Open UTC intervals of one local day, pauses cut out."""
        return _day_intervals(self, day)

    def local_date(self, instant: int) -> date:
        return datetime.fromtimestamp(instant / 1000, tz=self._zone).date()

    def zone(self) -> ZoneInfo:
        return self._zone


@lru_cache(maxsize=4096)
def _day_intervals(calendar: Calendar, day: date) -> tuple[tuple[int, int], ...]:
    zone = calendar.zone()
    if day in calendar.holidays:
        intervals: list[tuple[int, int]] = []
    elif calendar.hours is None:
        begin = _epoch_ms(datetime.combine(day, time(0), tzinfo=zone))
        end = _epoch_ms(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))
        intervals = [(begin, end)]
    else:
        intervals = []
        for opens, closes in calendar.hours.get(day.weekday(), ()):
            begin = _epoch_ms(datetime.combine(day, opens, tzinfo=zone))
            if closes == time(0):
                end = _epoch_ms(datetime.combine(day + timedelta(days=1), closes, tzinfo=zone))
            else:
                end = _epoch_ms(datetime.combine(day, closes, tzinfo=zone))
            if end > begin:
                intervals.append((begin, end))
    for pause in calendar.pauses:
        intervals = _cut(intervals, pause.start, pause.end)
    return tuple(intervals)


def _cut(intervals: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for a, b in intervals:
        if b <= start or a >= end:
            result.append((a, b))
            continue
        if a < start:
            result.append((a, start))
        if b > end:
            result.append((end, b))
    return result


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


ALWAYS_OPEN = Calendar()
