"""Durable timers: work due at a time (promise due dates, hold expiry, daily ageing) that survives restarts.

Timers live in the service's database, keyed by (kind, key) so that scheduling is idempotent.
A worker claims due timers with FOR UPDATE SKIP LOCKED, so several replicas share the work
and none fires a timer twice; the handler's effects and the timer's `fired_at` commit together.
"Now" comes from an injectable clock, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dcp_platform import jsontext
from dcp_platform.clock import Clock
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.faults import is_transient
from dcp_platform.eventsourcing.store import ConcurrencyConflict
from dcp_platform.lifecycle import BackgroundLoop

log = logging.getLogger(__name__)

TIMERS_FIRED = Counter("dcp_timers_fired_total", "Durable timers fired", ["kind", "outcome"])


@dataclass(frozen=True)
class DueTimer:
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


TimerHandler = Callable[[AsyncConnection, DueTimer], Awaitable[None]]

_SCHEDULE = text(
    """
    INSERT INTO timers (kind, key, due_at, payload) VALUES (:kind, :key, :due_at, CAST(:payload AS jsonb))
    ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload,
        fired_at = NULL, attempts = 0, last_error = NULL
    """
)
_CANCEL = text("DELETE FROM timers WHERE kind = :kind AND key = :key AND fired_at IS NULL")
_CLAIM = text(
    """
    SELECT id, kind, key, due_at, payload, attempts FROM timers
    WHERE fired_at IS NULL AND due_at <= :now AND attempts < :max_attempts
    ORDER BY due_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
# A handler may reschedule its own timer (same kind and key, a later due time): then it stays pending.
_FIRED = text(
    "UPDATE timers SET fired_at = :now, attempts = attempts + 1 WHERE id = :id AND due_at = :due_at"
)
_FAILED = text("UPDATE timers SET attempts = attempts + 1, last_error = :error WHERE id = :id")
# A race (another writer moved a stream) or the infrastructure failing is not the timer's fault: it is
# fired again on the next pass without using up one of its attempts.
_RACED = text("UPDATE timers SET last_error = :error WHERE id = :id")


async def schedule(
    conn: AsyncConnection, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
) -> None:
    """Schedule (or move) the timer (kind, key) in the caller's transaction."""
    if due_at.tzinfo is None:
        raise ValueError("timer due times must be timezone-aware")
    params = {"kind": kind, "key": key, "due_at": due_at, "payload": jsontext.dumps(dict(payload or {}))}
    await conn.execute(_SCHEDULE, params)


async def cancel(conn: AsyncConnection, kind: str, key: str) -> None:
    await conn.execute(_CANCEL, {"kind": kind, "key": key})


class TimerWorker(BackgroundLoop):
    """Fires due timers through the handler registered for their kind."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        handlers: Mapping[str, TimerHandler],
        *,
        poll_interval: float = 1.0,
        batch_size: int = 100,
        max_attempts: int = 5,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._handlers = dict(handlers)
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        BackgroundLoop.__init__(self)

    def register(self, kind: str, handler: TimerHandler) -> None:
        self._handlers[kind] = handler

    def wake(self) -> None:
        """Look for due timers now (for instance after the clock was moved)."""
        BackgroundLoop.wake(self)

    async def start(self) -> None:
        self.start_loop(self._run(), "timer-worker")

    async def stop(self) -> None:
        await self.stop_loop()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.fire_due()
            except Exception:
                log.exception("timer worker: pass failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)

    async def fire_due(self) -> int:
        """Fire every timer due at the clock's now; returns how many fired."""
        fired = 0
        while True:
            now = self._clock.now()
            fired_now = 0
            async with self._engine.begin() as conn:
                rows = (
                    await conn.execute(
                        _CLAIM, {"now": now, "limit": self._batch_size, "max_attempts": self._max_attempts}
                    )
                ).all()
                for row in rows:
                    timer = DueTimer(row.id, row.kind, row.key, row.due_at, row.payload, row.attempts)
                    if await self._fire(conn, timer, now):
                        fired_now += 1
            fired += fired_now
            # A handler may have scheduled its continuation at "now" (a long run in batches): look
            # again at once rather than a poll interval later, unless nothing fired this round.
            if len(rows) < self._batch_size and fired_now == 0:
                return fired

    async def _fire(self, conn: AsyncConnection, timer: DueTimer, now: datetime) -> bool:
        handler = self._handlers.get(timer.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for timer kind {timer.kind!r}")
            # Events a timer causes carry the timer as their causation (the actor is the service).
            with bind_context(
                causation_id=f"timer:{timer.kind}:{timer.key}", span_name=f"timer {timer.kind}"
            ):
                async with conn.begin_nested():
                    await handler(conn, timer)
                await conn.execute(_FIRED, {"now": now, "id": timer.id, "due_at": timer.due_at})
        except Exception as exc:
            log.warning("timer %s/%s failed: %s", timer.kind, timer.key, exc)
            retried = isinstance(exc, ConcurrencyConflict) or is_transient(exc)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            await conn.execute(_RACED if retried else _FAILED, {"id": timer.id, "error": error})
            TIMERS_FIRED.labels(timer.kind, "retried" if retried else "failed").inc()
            return False
        TIMERS_FIRED.labels(timer.kind, "fired").inc()
        return True
