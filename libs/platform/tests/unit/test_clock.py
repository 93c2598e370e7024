"""Clocks tell aware UTC time; the manual clock moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dcp_platform.clock import ManualClock, SystemClock


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().utcoffset() == timedelta(0)


def test_manual_clock_sets_and_advances_in_utc() -> None:
    clock = ManualClock(datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    assert clock.advance(minutes=5) == datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
    clock.advance(timedelta(days=1))
    assert clock.now() == datetime(2024, 5, 2, 10, 5, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        ManualClock().set(datetime(2024, 5, 1))  # noqa: DTZ001
