"""The durable-timer part of a service's unit of work, once for every service: the port the
handlers call, its PostgreSQL implementation (the `timers` table, in the unit of work's
transaction) and its in-memory twin (a dict committed with the in-memory transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.eventsourcing import timers

MemoryTimerBook = dict[tuple[str, str], tuple[datetime, dict[str, Any]]]
"""(kind, key) -> (due at, payload): the pending timers of an in-memory unit of work."""

_PENDING_KEYS = text(
    "SELECT key FROM timers WHERE kind = :kind AND key LIKE :prefix AND fired_at IS NULL ORDER BY key"
)


class TimerPort(Protocol):
    async def schedule_timer(
        self, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
    ) -> None:
        """Schedule (or move) the timer (kind, key); a due time must carry its zone."""
        ...

    async def cancel_timer(self, kind: str, key: str) -> None: ...

    async def pending_timer_keys(self, kind: str, key_prefix: str) -> list[str]:
        """Keys of the timers of `kind` not yet fired that start with `key_prefix`, in order."""
        ...


class PostgresTimers:
    """Mixed into a PostgreSQL unit of work that has `tx`, its transaction's connection."""

    tx: AsyncConnection

    async def schedule_timer(
        self, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
    ) -> None:
        await timers.schedule(self.tx, kind, key, due_at, payload)

    async def cancel_timer(self, kind: str, key: str) -> None:
        await timers.cancel(self.tx, kind, key)

    async def pending_timer_keys(self, kind: str, key_prefix: str) -> list[str]:
        rows = await self.tx.execute(_PENDING_KEYS, {"kind": kind, "prefix": f"{key_prefix}%"})
        return [r.key for r in rows]


class MemoryTimers:
    """Mixed into an in-memory unit of work whose `timer_book` commits with its transaction."""

    @property
    def timer_book(self) -> MemoryTimerBook:
        raise NotImplementedError

    async def schedule_timer(
        self, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
    ) -> None:
        if due_at.tzinfo is None:
            raise ValueError("timer due times must be timezone-aware")
        self.timer_book[(kind, key)] = (due_at, dict(payload or {}))

    async def cancel_timer(self, kind: str, key: str) -> None:
        self.timer_book.pop((kind, key), None)

    async def pending_timer_keys(self, kind: str, key_prefix: str) -> list[str]:
        return sorted(k for (t, k) in self.timer_book if t == kind and k.startswith(key_prefix))
