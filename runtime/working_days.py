"""Working days and deadlines, as the contract defines them ("Time and working days").

A working day is Monday to Friday less the England and Wales bank holidays (the `holidays`
package's `GB` calendar, subdivision `ENG`, substitute days included). "N working days after
T" counts from the next working day after T's date in London, and a deadline falls at 23:59:59
Europe/London on its day. Pure: every moment is passed in, nothing reads the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
_END_OF_DAY = time(23, 59, 59)
_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    # The package builds a calendar lazily per year and on every membership test of a new
    # year; a frozen set per year makes each test a hash lookup.
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def london_date(at: datetime) -> date:
    """The calendar date in London at the moment `at` (which must carry a timezone)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a moment needs a timezone to have a London date")
    return at.astimezone(LONDON).date()


def _next_working_day(day: date) -> date:
    day += _ONE_DAY
    while not is_working_day(day):
        day += _ONE_DAY
    return day


def working_days_after(at: datetime, n: int) -> date:
    """The n-th working day after the London date of `at` (n == 0: that date itself)."""
    if n < 0:
        raise ValueError("n must not be negative")
    day = london_date(at)
    for _ in range(n):
        day = _next_working_day(day)
    return day


def end_of_day(day: date) -> datetime:
    """23:59:59 Europe/London on `day`, as an aware UTC datetime."""
    return datetime.combine(day, _END_OF_DAY, tzinfo=LONDON).astimezone(UTC)


def deadline_after(at: datetime, n: int) -> datetime:
    """The end of the n-th working day after `at`: the contract's "within n working days"."""
    return end_of_day(working_days_after(at, n))


def nth_working_day_from(start: date, n: int) -> date:
    """The n-th working day counting `start` as day 1 when it is one (e.g. a work trial's
    "15 working days from its start, inclusive"); otherwise day 1 is the next working day."""
    if n < 1:
        raise ValueError("n counts from 1")
    day = start if is_working_day(start) else _next_working_day(start)
    for _ in range(n - 1):
        day = _next_working_day(day)
    return day
