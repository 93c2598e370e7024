"""Durable timers: fire once when the injectable clock reaches them, shared safely between workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing import timers
from dcp_platform.eventsourcing.timers import DueTimer, TimerWorker

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 31, 23, 0, tzinfo=UTC)


async def setup_fired_table(database: Any) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE fired (key text, due_at timestamptz)"))


async def record(conn: AsyncConnection, timer: DueTimer) -> None:
    if timer.payload.get("fail"):
        raise RuntimeError("not yet")
    await conn.execute(text("INSERT INTO fired VALUES (:k, :d)"), {"k": timer.key, "d": timer.due_at})


async def fired(database: Any) -> list[str]:
    async with database.engine.connect() as conn:
        return [r.key for r in (await conn.execute(text("SELECT key FROM fired ORDER BY due_at, key"))).all()]


async def test_timer_fires_once_when_the_clock_reaches_it(database: Any) -> None:
    await setup_fired_table(database)
    clock = ManualClock(T0)
    async with database.engine.begin() as conn:
        await timers.schedule(conn, "promise.due", "p-1", T0 + timedelta(days=1))
        await timers.schedule(conn, "promise.due", "p-2", T0 + timedelta(days=3))
    worker = TimerWorker(database.engine, clock, {"promise.due": record})

    assert await worker.fire_due() == 0
    clock.advance(days=1)
    assert await worker.fire_due() == 1
    assert await worker.fire_due() == 0
    clock.advance(days=5)
    assert await worker.fire_due() == 1
    assert await fired(database) == ["p-1", "p-2"]


async def test_rescheduling_moves_a_timer_and_cancel_removes_it(database: Any) -> None:
    await setup_fired_table(database)
    clock = ManualClock(T0)
    async with database.engine.begin() as conn:
        await timers.schedule(conn, "hold.expiry", "h-1", T0 + timedelta(hours=1))
        await timers.schedule(conn, "hold.expiry", "h-1", T0 + timedelta(days=60))
        await timers.schedule(conn, "hold.expiry", "h-2", T0 + timedelta(hours=1))
        await timers.cancel(conn, "hold.expiry", "h-2")
    worker = TimerWorker(database.engine, clock, {"hold.expiry": record})

    clock.advance(days=59)
    assert await worker.fire_due() == 0
    clock.advance(days=2)
    assert await worker.fire_due() == 1
    assert await fired(database) == ["h-1"]


async def test_concurrent_workers_fire_each_timer_exactly_once(database: Any) -> None:
    await setup_fired_table(database)
    clock = ManualClock(T0)
    async with database.engine.begin() as conn:
        for i in range(300):
            await timers.schedule(conn, "dpd.daily", f"case-{i:03d}", T0 + timedelta(minutes=i % 7))
    clock.advance(hours=1)
    workers = [TimerWorker(database.engine, clock, {"dpd.daily": record}, batch_size=20) for _ in range(4)]

    counts = await asyncio.gather(*[w.fire_due() for w in workers])

    assert sum(counts) == 300
    keys = await fired(database)
    assert len(keys) == 300
    assert len(set(keys)) == 300


async def test_a_failing_timer_is_retried_and_counted(database: Any) -> None:
    await setup_fired_table(database)
    clock = ManualClock(T0)
    async with database.engine.begin() as conn:
        await timers.schedule(conn, "plan.installment", "i-1", T0, {"fail": True})
        await timers.schedule(conn, "plan.installment", "i-2", T0)
    worker = TimerWorker(database.engine, clock, {"plan.installment": record}, max_attempts=2)

    assert await worker.fire_due() == 1
    assert await worker.fire_due() == 0  # second and last attempt of i-1 fails too
    assert await worker.fire_due() == 0  # gives up: no endless retry loop
    async with database.engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT attempts, last_error, fired_at FROM timers WHERE key = 'i-1'"))
        ).one()
    assert row.attempts == 2
    assert "not yet" in row.last_error
    assert row.fired_at is None
    assert await fired(database) == ["i-2"]


async def test_naive_due_times_are_refused(database: Any) -> None:
    async with database.engine.begin() as conn:
        with pytest.raises(ValueError, match="timezone-aware"):
            await timers.schedule(conn, "x", "y", datetime(2026, 1, 1))  # noqa: DTZ001


async def test_a_handler_can_reschedule_its_own_timer(database: Any) -> None:
    await setup_fired_table(database)
    clock = ManualClock(T0)

    async def daily(conn: AsyncConnection, timer: DueTimer) -> None:
        await record(conn, timer)
        await timers.schedule(conn, timer.kind, timer.key, timer.due_at + timedelta(days=1))

    async with database.engine.begin() as conn:
        await timers.schedule(conn, "ageing", "daily", T0)
    worker = TimerWorker(database.engine, clock, {"ageing": daily})

    assert await worker.fire_due() == 1
    assert await worker.fire_due() == 0  # next run is tomorrow
    clock.advance(days=1)
    assert await worker.fire_due() == 1
    assert len(await fired(database)) == 2


async def test_a_continuation_scheduled_now_fires_in_the_same_pass(database: Any) -> None:
    """A long run in batches (the daily ageing) schedules its next batch at "now": the worker runs
    it at once, not a poll interval later."""
    await setup_fired_table(database)
    clock = ManualClock(T0)

    async def in_batches(conn: AsyncConnection, timer: DueTimer) -> None:
        await record(conn, timer)
        batch = int(timer.payload["batch"])
        if batch < 5:
            await timers.schedule(conn, timer.kind, f"run:after:{batch}", clock.now(), {"batch": batch + 1})

    async with database.engine.begin() as conn:
        await timers.schedule(conn, "ageing", "run", T0, {"batch": 1})
    worker = TimerWorker(database.engine, clock, {"ageing": in_batches})

    assert await worker.fire_due() == 5
    assert await fired(database) == ["run", "run:after:1", "run:after:2", "run:after:3", "run:after:4"]
