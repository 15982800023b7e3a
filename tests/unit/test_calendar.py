"""Business-time arithmetic: opening hours in a time zone, holidays, pauses and DST."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from stream_sla.sla.calendar import ALWAYS_OPEN, Calendar, Pause

NY = ZoneInfo("America/New_York")
HOUR = 3_600_000
WEEKDAYS_9_TO_6 = {day: ((time(9), time(18)),) for day in range(5)}
NEW_YORK = Calendar(
    "ny-business",
    "America/New_York",
    WEEKDAYS_9_TO_6,
    holidays=frozenset({date(2026, 11, 26), date(2026, 12, 25)}),
)


def ny(*args: int) -> int:
    return int(datetime(*args, tzinfo=NY).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        (ny(2026, 11, 20, 17, 30), HOUR, ny(2026, 11, 23, 9, 30)),
        (ny(2026, 11, 23, 10, 0), HOUR, ny(2026, 11, 23, 11, 0)),
        (ny(2026, 11, 23, 7, 0), HOUR, ny(2026, 11, 23, 10, 0)),
        (ny(2026, 11, 21, 12, 0), HOUR, ny(2026, 11, 23, 10, 0)),
        (ny(2026, 11, 25, 17, 30), HOUR, ny(2026, 11, 27, 9, 30)),
        (ny(2026, 10, 30, 17, 30), HOUR, ny(2026, 11, 2, 9, 30)),
        (ny(2026, 3, 6, 17, 30), HOUR, ny(2026, 3, 9, 9, 30)),
        (ny(2026, 11, 23, 9, 0), 48 * HOUR, ny(2026, 12, 1, 12, 0)),
    ],
    ids=[
        "friday-1730-plus-1h-is-monday-0930",
        "inside-hours-is-plain-addition",
        "before-opening-starts-at-nine",
        "weekend-hand-off-starts-monday",
        "thanksgiving-is-skipped",
        "dst-ends-over-the-weekend-local-hours-hold",
        "dst-starts-over-the-weekend-local-hours-hold",
        "48-business-hours-span-a-holiday-week",
    ],
)
def test_deadline_in_business_hours(start: int, duration: int, due: int) -> None:
    assert NEW_YORK.deadline(start, duration) == due


def test_pause_window_stops_the_clock() -> None:
    outage = Pause(ny(2026, 11, 23, 10, 0), ny(2026, 11, 23, 13, 0), "CRM outage")
    paused = Calendar("ny", "America/New_York", WEEKDAYS_9_TO_6, pauses=(outage,))
    assert paused.deadline(ny(2026, 11, 23, 9, 30), HOUR) == ny(2026, 11, 23, 13, 30)


def test_pause_applies_to_a_24x7_calendar_too() -> None:
    outage = Pause(ny(2026, 11, 23, 10, 0), ny(2026, 11, 23, 13, 0))
    around_the_clock = Calendar("24x7-with-outage", "UTC", None, pauses=(outage,))
    assert around_the_clock.deadline(ny(2026, 11, 23, 9, 30), HOUR) == ny(2026, 11, 23, 13, 30)


def test_always_open_is_plain_addition() -> None:
    assert ALWAYS_OPEN.deadline(1_000, HOUR) == 1_000 + HOUR


def test_open_time_between_friday_evening_and_monday_morning() -> None:
    assert NEW_YORK.open_between(ny(2026, 11, 20, 17, 30), ny(2026, 11, 23, 9, 30)) == HOUR


def test_holidays_close_a_24x7_calendar_too() -> None:
    christmas_only = Calendar("24x7", "America/New_York", None, frozenset({date(2026, 12, 25)}))
    assert christmas_only.deadline(ny(2026, 12, 24, 23, 30), HOUR) == ny(2026, 12, 26, 0, 30)
