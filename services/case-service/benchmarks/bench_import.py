"""Time and peak memory of a 100,000-row CSV portfolio import (the path of POST /imports and the CLI).

Run with `make bench` (or pytest this file with the stack's env). Prints figures; asserts only that
every row was opened and that memory stayed bounded (the file is streamed, never loaded whole).
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
import tracemalloc
from pathlib import Path

import pytest

from case_service.adapters.policy_file import load_policy
from case_service.application.imports import create_import, run_import
from case_service.application.ports import CaseEnvironment
from case_service.bootstrap import case_bus
from case_service.main import MIGRATIONS, CaseServiceSettings
from dcp_devstack.benchreport import record
from dcp_devstack.testing import temporary_database
from dcp_platform import migrations
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.store import EventStore

ROWS = int(os.environ.get("CASE_IMPORT_BENCH_ROWS", "100000"))
# tracemalloc shows Python's own peak allocations but roughly doubles the run time.
TRACE = os.environ.get("CASE_IMPORT_BENCH_TRACEMALLOC") == "1"
HEADER = (
    "creditor_id,account_reference,product,debtor_id,full_name,language,time_zone,phone,"
    "currency,principal_minor,interest_minor,fees_minor,days_past_due,jurisdiction,risk_score\n"
)


def write_portfolio(path: Path, rows: int) -> None:
    products = ("credit_card", "personal_loan", "overdraft")
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for n in range(rows):
            out.write(
                f"bench-bank,ACC-{n:07d},{products[n % 3]},D-{n},Debtor {n},en-GB,Europe/London,"
                f"+4477009{n % 100000:05d},GBP,{10000 + n % 900000},{n % 5000},{n % 300},{1 + n % 400},GB,{n % 1000}\n"
            )


async def copy_the_same_events(dsn: str) -> float:
    """Seconds asyncpg's COPY (`copy_records_to_table`) takes to write the import's events again,
    all columns but the generated position, into an empty table of the same shape."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        columns = ["stream_id", "stream_version", "event_id", "event_type", "topic", "payload", "metadata"]
        rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM events ORDER BY position")
        await conn.execute("CREATE TABLE events_copy (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        await conn.execute("ALTER TABLE events_copy ALTER COLUMN position DROP NOT NULL")
        records = [tuple(r) for r in rows]
        started = time.perf_counter()
        await conn.copy_records_to_table("events_copy", records=records, columns=columns)
        return time.perf_counter() - started
    finally:
        await conn.close()


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@pytest.mark.integration
async def test_bench_import_100k_rows(database_server_url: str, tmp_path: Path) -> None:
    async with temporary_database(database_server_url, "bench_case") as url:
        settings = CaseServiceSettings(service_database_url=url)
        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, settings.sqlalchemy_url)
        portfolio = tmp_path / "portfolio.csv"
        await asyncio.to_thread(write_portfolio, portfolio, ROWS)
        engine = create_engine(settings.database_dsn, pool_size=2, max_overflow=0)
        service = case_bus(EventStore(engine), CaseEnvironment(load_policy(), settings.make_clock()))
        import_id = await create_import(
            service, fmt="csv", filename=portfolio.name, actor="bench", bytes_total=portfolio.stat().st_size
        )
        rss_before = rss_mib()
        if TRACE:
            tracemalloc.start()
        started = time.perf_counter()
        with portfolio.open("rb") as source:
            progress = await run_import(service, import_id, source, "csv")
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if TRACE else 0
        tracemalloc.stop()
        rss_after = rss_mib()
        async with engine.connect() as conn:
            from sqlalchemy import text

            events = (await conn.execute(text("SELECT count(*) FROM events"))).scalar_one()
        await engine.dispose()
        copy_seconds = await copy_the_same_events(settings.database_dsn)
        size_mib = portfolio.stat().st_size / 2**20
        print(
            f"\ncase import: {ROWS} rows ({size_mib:.1f} MiB CSV) -> {progress.accepted} cases, {events} events"
            f" in {elapsed:.1f}s ({ROWS / elapsed:.0f} rows/s{', tracemalloc on' if TRACE else ''})"
            f"\n  process max RSS {rss_before:.0f} -> {rss_after:.0f} MiB"
            + (f"; peak traced Python allocations {peak / 2**20:.1f} MiB" if TRACE else "")
        )
        rate, copy_rate = ROWS / elapsed, ROWS / copy_seconds
        print(f"  COPY of the same {events} events into a table like events: {copy_seconds:.1f}s")
        record(
            f"bulk import of {ROWS:,} rows",
            f"{rate:,.0f} rows/s, RSS +{rss_after - rss_before:.0f} MiB",
            goal=">= 10,000 rows/s, RSS < 300 MB",
            anchor=f"COPY of its events {copy_rate:,.0f} rows/s",
            ratio=rate / copy_rate,
            met=rate >= 10_000 and rss_after < 300,
        )
        assert progress.accepted == ROWS
        assert rss_after - rss_before < 300  # MiB: streamed, bounded by one chunk, not by the file
