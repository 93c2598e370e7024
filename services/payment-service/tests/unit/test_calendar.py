"""Due dates across month ends, leap years and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from payment_service.domain.calendar import (
    Frequency,
    add_months,
    deadline,
    local_date,
    schedule_dates,
    split_amount,
    term_in_months,
)


def test_a_monthly_schedule_from_the_31st_uses_the_last_day_of_short_months_without_drifting() -> None:
    assert schedule_dates(date(2027, 1, 31), 6, Frequency.MONTHLY) == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
    ]


def test_february_has_29_days_in_a_leap_year() -> None:
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2028, 1, 30), 1) == date(2028, 2, 29)
    assert add_months(date(2100, 1, 29), 1) == date(2100, 2, 28)  # divisible by 100, not by 400
    assert add_months(date(2000, 1, 29), 1) == date(2000, 2, 29)  # divisible by 400


def test_months_roll_over_the_year_end() -> None:
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 12, 31), 12) == date(2027, 12, 31)


def test_weekly_and_fortnightly_schedules() -> None:
    assert schedule_dates(date(2027, 2, 22), 3, Frequency.WEEKLY) == [
        date(2027, 2, 22),
        date(2027, 3, 1),
        date(2027, 3, 8),
    ]
    assert schedule_dates(date(2028, 2, 22), 2, Frequency.FORTNIGHTLY) == [
        date(2028, 2, 22),
        date(2028, 3, 7),
    ]


def test_term_counts_a_started_month() -> None:
    assert term_in_months(date(2027, 1, 31), date(2027, 2, 28)) == 1
    assert term_in_months(date(2027, 1, 15), date(2027, 7, 15)) == 6
    assert term_in_months(date(2027, 1, 15), date(2027, 7, 16)) == 7
    assert term_in_months(date(2027, 1, 15), date(2027, 1, 15)) == 0


def test_the_deadline_is_the_end_of_the_last_grace_day_in_the_debtors_time_zone() -> None:
    # New York is UTC-5 in winter: midnight starting 3 Dec local is 05:00 UTC.
    assert deadline(date(2026, 11, 30), 2, "America/New_York") == datetime(2026, 12, 3, 5, 0, tzinfo=UTC)
    assert deadline(date(2026, 11, 30), 0, "UTC") == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    # Across the end of February in a leap year, and in summer time (London, BST).
    assert deadline(date(2028, 2, 28), 1, "UTC") == datetime(2028, 3, 1, tzinfo=UTC)
    assert deadline(date(2027, 6, 30), 0, "Europe/London") == datetime(2027, 6, 30, 23, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        deadline(date(2027, 1, 1), -1, "UTC")


def test_today_is_the_debtors_date() -> None:
    moment = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    assert local_date(moment, "America/Los_Angeles") == date(2026, 12, 31)
    assert local_date(moment, "Asia/Tokyo") == date(2027, 1, 1)


def test_an_amount_splits_into_positive_parts_with_the_remainder_last() -> None:
    assert split_amount(10000, 3) == [3333, 3333, 3334]
    assert sum(split_amount(99999, 7)) == 99999
    with pytest.raises(ValueError):
        split_amount(2, 3)
