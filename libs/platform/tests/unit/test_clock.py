"""Clocks tell aware UTC time; the manual clock moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dcp_platform.clock import ManualClock, SharedManualClock, SystemClock


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


def test_a_shared_manual_clock_moves_every_process_that_names_its_file(tmp_path: Path) -> None:
    start = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    first = SharedManualClock(tmp_path / "clock", start)
    second = SharedManualClock(tmp_path / "clock", start + timedelta(days=9))  # the file wins
    assert second.now() == start

    first.set(start + timedelta(hours=3))
    assert second.now() == start + timedelta(hours=3)
    second.advance(minutes=30)
    assert first.now() == start + timedelta(hours=3, minutes=30)
    assert (tmp_path / "clock").read_text().strip() == first.now().isoformat()
