"""Calendar arithmetic for due dates: deadlines in the debtor's time zone, monthly schedules, terms."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


def deadline(due_on: date, grace_days: int, time_zone: str) -> datetime:
    """The instant a due date (plus grace) has passed: the end of the last grace day in the debtor's
    time zone (midnight starting the next day), in UTC. A payment received before it is in time."""
    if grace_days < 0:
        raise ValueError("grace days cannot be negative")
    local_midnight = datetime.combine(due_on + timedelta(days=grace_days + 1), time(0), ZoneInfo(time_zone))
    return local_midnight.astimezone(UTC)


def local_date(moment: datetime, time_zone: str) -> date:
    """The calendar date at `moment` in `time_zone` (what "today" is for the debtor)."""
    return moment.astimezone(ZoneInfo(time_zone)).date()


def add_months(anchor: date, months: int) -> date:
    """`anchor` moved by whole months, keeping its day where the month has it and otherwise using
    the month's last day: Jan 31 + 1 -> Feb 28 (29 in leap years), + 2 -> Mar 31 (no drift)."""
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def term_in_months(start: date, end: date) -> int:
    """Whole months needed to reach `end` from `start`, counting a started month as one."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if add_months(start, months) < end:
        months += 1
    return max(months, 0)


class Frequency(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"


def schedule_dates(first_due_on: date, count: int, frequency: Frequency) -> list[date]:
    """The due dates of `count` installments from `first_due_on`."""
    if count < 1:
        raise ValueError("a schedule has at least one installment")
    if frequency is Frequency.MONTHLY:
        return [add_months(first_due_on, k) for k in range(count)]
    step = 7 if frequency is Frequency.WEEKLY else 14
    return [first_due_on + timedelta(days=step * k) for k in range(count)]


def split_amount(total_minor: int, count: int) -> list[int]:
    """`total_minor` in `count` near-equal parts; the last part carries the remainder."""
    if count < 1 or total_minor < count:
        raise ValueError("cannot split the amount into that many positive parts")
    base = total_minor // count
    return [base] * (count - 1) + [total_minor - base * (count - 1)]
