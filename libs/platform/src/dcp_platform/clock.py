"""Time source for services: always timezone-aware UTC, replaceable in tests."""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Something that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetimes are not allowed; give a timezone-aware datetime")
    return moment.astimezone(UTC)


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, replays)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _as_utc(start) if start is not None else datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _as_utc(moment)

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        """Move forward by `delta` or by timedelta keyword arguments (`seconds=5`); return the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        self._now = self._now + step
        return self._now


class SharedManualClock(ManualClock):
    """A manual clock that several processes share through one file (replicas of a service in the
    local stack, so a `PUT /admin/clock` on one replica moves them all). The file holds the ISO 8601
    time; it is read at every `now()` and written atomically (a rename)."""

    def __init__(self, path: Path, start: datetime | None = None) -> None:
        super().__init__(start)
        self._path = path
        if not path.exists():
            self._write(self._now)
        self._refresh()

    def now(self) -> datetime:
        self._refresh()
        return self._now

    def set(self, moment: datetime) -> None:
        super().set(moment)
        self._write(self._now)

    def advance(self, delta: timedelta | None = None, /, **kwargs: float) -> datetime:
        self._refresh()
        moved = super().advance(delta, **kwargs)
        self._write(moved)
        return moved

    def _refresh(self) -> None:
        # read every time: file times are too coarse to tell two quick moves apart (dev only, ~10 µs)
        with contextlib.suppress(ValueError, OSError):
            self._now = _as_utc(datetime.fromisoformat(self._path.read_text().strip()))

    def _write(self, moment: datetime) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self._path.with_name(f".{self._path.name}.{os.getpid()}")
        scratch.write_text(moment.isoformat() + "\n")
        os.replace(scratch, self._path)


class FixedClock(ManualClock):
    """A clock frozen at one moment (it can still be moved explicitly with set/advance)."""

    def __init__(self, moment: datetime) -> None:
        super().__init__(moment)
