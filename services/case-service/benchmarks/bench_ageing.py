"""The daily ageing when every case crosses a bucket at once: N cases opened at 30 days past due, the
clock moved to the next day, and the ageing run (the AGEING_TIMER's command, batch after batch, as
the timer worker runs it) until no case needs ageing. Prints cases aged per second and what that
means for a million cases. Asserts only that every case was aged.

Run with `make bench`; `BENCH_AGEING_CASES` (default 20,000) sets N.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import text

from case_service.adapters.policy_file import load_policy
from case_service.adapters.unit_of_work_contract import placement
from case_service.application import commands as c
from case_service.application.ports import CaseEnvironment
from case_service.bootstrap import case_bus
from case_service.main import MIGRATIONS, CaseServiceSettings
from dcp_devstack.benchreport import record
from dcp_devstack.testing import temporary_database
from dcp_platform import migrations
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.store import EventStore

CASES = int(os.environ.get("BENCH_AGEING_CASES", "20000"))
NOW = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)


@pytest.mark.integration
async def test_bench_daily_ageing_of_every_case(database_server_url: str) -> None:
    async with temporary_database(database_server_url, "bench_ageing") as url:
        settings = CaseServiceSettings(service_database_url=url)
        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, settings.sqlalchemy_url)
        engine = create_engine(settings.database_dsn, pool_size=2, max_overflow=0)
        clock = ManualClock(NOW)
        bus = case_bus(EventStore(engine), CaseEnvironment(load_policy(), clock))
        run = uuid4().hex[:6]
        for start in range(0, CASES, 500):
            chunk = [(n, placement(f"AGE-{run}-{n}", dpd=30)) for n in range(start, min(start + 500, CASES))]
            await bus.handle(c.OpenCases(chunk))
        async with engine.connect() as conn:
            before = (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()

        clock.set(NOW + timedelta(days=1))  # day 30 -> 31: every case changes bucket (and stage)
        started = time.perf_counter()
        aged = 0
        while True:
            batch = await bus.handle(c.AgeCases())
            aged += batch
            if batch < c.AgeCases.batch:
                break
        elapsed = time.perf_counter() - started
        async with engine.connect() as conn:
            after = (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()
        await engine.dispose()

    rate = aged / elapsed
    million_minutes = 1_000_000 / rate / 60
    print(
        f"\ndaily ageing: {aged:,} cases crossing day 30 -> 31 in {elapsed:.1f}s ({rate:,.0f} cases/s,"
        f" {(after - before) / max(aged, 1):.1f} events per case); 1M cases: {million_minutes:.0f} min"
    )
    record(
        f"daily ageing, {aged:,} cases crossing a bucket",
        f"{rate:,.0f} cases/s (1M: {million_minutes:.0f} min)",
        goal=">= 1,700/s (1M in < 10 min)",
        met=rate >= 1700,
    )
    assert aged == CASES
