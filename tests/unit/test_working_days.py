"""Working days and deadlines: England and Wales bank holidays, weekends, London time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.working_days import (
    LONDON,
    deadline_after,
    end_of_day,
    is_working_day,
    nth_working_day_from,
    working_days_after,
)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 24), True),  # Thursday
        (date(2026, 12, 25), False),  # Christmas Day, a Friday
        (date(2026, 12, 26), False),  # Boxing Day, a Saturday
        (date(2026, 12, 28), False),  # Monday: Boxing Day's substitute
        (date(2026, 12, 29), True),
        (date(2027, 3, 26), False),  # Good Friday
        (date(2027, 3, 29), False),  # Easter Monday
        (date(2027, 3, 30), True),
        (date(2026, 8, 31), False),  # summer bank holiday (last Monday of August)
        (date(2027, 8, 30), False),
        (date(2026, 11, 28), False),  # a Saturday
        (date(2026, 11, 30), True),
    ],
)
def test_working_days_follow_the_england_and_wales_calendar(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_christmas_2026_skips_the_substitute_monday() -> None:
    # Thursday 24th: Fri 25, Sat, Sun, Mon 28 (substitute) are not working days.
    assert working_days_after(london(2026, 12, 24, 10), 1) == date(2026, 12, 29)
    assert working_days_after(london(2026, 12, 24, 10), 3) == date(2026, 12, 31)


def test_easter_2027_skips_good_friday_and_easter_monday() -> None:
    assert working_days_after(london(2027, 3, 25, 9), 1) == date(2027, 3, 30)
    assert working_days_after(london(2027, 3, 24, 9), 2) == date(2027, 3, 30)


def test_the_summer_bank_holiday_is_skipped() -> None:
    assert working_days_after(london(2026, 8, 28, 17), 1) == date(2026, 9, 1)


def test_a_deadline_across_a_weekend_ends_on_the_working_day() -> None:
    friday = london(2026, 11, 27, 16, 30)
    assert deadline_after(friday, 2) == datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)


def test_counting_starts_from_the_next_working_day_even_on_a_weekend() -> None:
    saturday = london(2026, 11, 28, 12)
    assert working_days_after(saturday, 1) == date(2026, 11, 30)


def test_end_of_day_is_london_time_in_summer_and_winter() -> None:
    assert end_of_day(date(2026, 7, 15)) == datetime(2026, 7, 15, 22, 59, 59, tzinfo=UTC)
    assert end_of_day(date(2026, 1, 15)) == datetime(2026, 1, 15, 23, 59, 59, tzinfo=UTC)
    assert end_of_day(date(2026, 7, 15)).tzinfo == UTC


def test_the_london_date_decides_not_the_utc_date() -> None:
    # 23:30 UTC on Thursday 16 July is 00:30 on Friday in London (BST).
    late = datetime(2026, 7, 16, 23, 30, tzinfo=UTC)
    assert working_days_after(late, 0) == date(2026, 7, 17)
    assert working_days_after(late, 1) == date(2026, 7, 20)


def test_n_zero_is_the_london_date_and_negative_or_naive_are_refused() -> None:
    assert working_days_after(london(2026, 12, 25, 8), 0) == date(2026, 12, 25)
    with pytest.raises(ValueError, match="negative"):
        working_days_after(london(2026, 12, 25, 8), -1)
    with pytest.raises(ValueError, match="timezone"):
        working_days_after(datetime(2026, 12, 25, 8), 1)


def test_nth_working_day_from_counts_a_working_start_as_day_one() -> None:
    monday = date(2026, 11, 30)
    assert nth_working_day_from(monday, 1) == monday
    assert nth_working_day_from(monday, 5) == date(2026, 12, 4)
    # 15 working days from Monday 14 December 2026: Christmas and the substitute skipped.
    assert nth_working_day_from(date(2026, 12, 14), 15) == date(2027, 1, 6)


def test_nth_working_day_from_a_holiday_starts_on_the_next_working_day() -> None:
    assert nth_working_day_from(date(2026, 12, 25), 1) == date(2026, 12, 29)
    assert nth_working_day_from(date(2026, 11, 28), 1) == date(2026, 11, 30)
    with pytest.raises(ValueError, match="counts from 1"):
        nth_working_day_from(date(2026, 11, 30), 0)


moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@given(at=moments, n=st.integers(min_value=1, max_value=40))
def test_the_result_is_a_working_day_with_exactly_n_working_days_up_to_it(
    at: datetime, n: int
) -> None:
    result = working_days_after(at, n)
    start = at.astimezone(LONDON).date()
    assert is_working_day(result)
    assert result > start
    between = [
        start + timedelta(days=k)
        for k in range(1, (result - start).days + 1)
        if is_working_day(start + timedelta(days=k))
    ]
    assert len(between) == n
    deadline = deadline_after(at, n)
    assert deadline.astimezone(LONDON).date() == result
    assert deadline > at


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    n=st.integers(min_value=1, max_value=40),
)
def test_nth_working_day_from_has_n_working_days_inclusive(start: date, n: int) -> None:
    result = nth_working_day_from(start, n)
    assert is_working_day(result)
    days = [start + timedelta(days=k) for k in range((result - start).days + 1)]
    assert sum(is_working_day(d) for d in days) == n
