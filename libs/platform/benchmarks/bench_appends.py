"""Append throughput of the event store with 1 and 16 concurrent writers, next to two references.

References on the same PostgreSQL server in the same run:
- plain asyncpg single-row transactions (the ceiling for one INSERT per commit);
- the `eventsourcing` library's PostgreSQL recorder (when installed), which takes a table lock
  per insert to keep its notification ids gap-free.
Also: the latency from commit to the event being readable from Kafka on an idle system.

Run with `make bench`. Prints figures and ratios; asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from dcp_devstack.benchreport import record
from dcp_devstack.kafka import create_topics_async
from dcp_devstack.testing import drop_database, new_database
from dcp_platform.eventsourcing.postgres import asyncpg_dsn, create_engine
from dcp_platform.eventsourcing.relay import OutboxRelay
from dcp_platform.eventsourcing.schema import install
from dcp_platform.eventsourcing.store import EventStore, NewEvent

APPENDS_PER_RUN = 4000
WRITER_COUNTS = (1, 4, 16)
PAYLOAD = {"amount": {"amount_minor": 12_345, "currency": "USD"}, "reason": "payment", "note": "x" * 200}


def new_event(case_id: str, topic: str = "collections.cases") -> NewEvent:
    return NewEvent(
        event_type="collections.case.balance_changed.v1",
        topic=topic,
        subject=case_id,
        data=PAYLOAD,
        envelope={
            "source": "/bench",
            "actor": "bench",
            "actorrole": "service",
            "correlationid": "bench",
            "time": "2026-11-29T08:00:00.000000Z",
        },
    )


async def run_writers(writers: int, total: int, append_one: Callable[[int, int], Awaitable[None]]) -> float:
    per_writer = total // writers

    async def writer(w: int) -> None:
        for i in range(per_writer):
            await append_one(w, i)

    started = time.perf_counter()
    await asyncio.gather(*[writer(w) for w in range(writers)])
    return per_writer * writers / (time.perf_counter() - started)


async def bench_event_store(server_url: str, writers: int) -> float:
    url = await new_database(server_url, "bench")
    engine = create_engine(url, pool_size=writers, max_overflow=0)
    await install(engine)
    store = EventStore(engine)

    async def append_one(w: int, i: int) -> None:
        # Each writer works on its own cases, a new stream every 10 events.
        case_id = f"case-{w}-{i // 10}"
        await store.append(case_id, i % 10, [new_event(case_id)])

    try:
        return await run_writers(writers, APPENDS_PER_RUN, append_one)
    finally:
        await engine.dispose()
        await drop_database(server_url, url)


async def bench_plain_asyncpg(server_url: str, writers: int) -> float:
    url = await new_database(server_url, "bench")
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=writers, max_size=writers)
    assert pool is not None
    await pool.execute(
        "CREATE TABLE plain (position bigserial primary key, stream_id text, version int, payload jsonb)"
    )
    import json

    body = json.dumps(PAYLOAD)

    async def append_one(w: int, i: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO plain (stream_id, version, payload) VALUES ($1, $2, $3)", f"{w}-{i}", i, body
            )

    try:
        return await run_writers(writers, APPENDS_PER_RUN, append_one)
    finally:
        await pool.close()
        await drop_database(server_url, url)


def bench_eventsourcing_library(server_url: str, writers: int) -> float | None:
    try:
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
    except ImportError:
        return None
    from sqlalchemy.engine import make_url

    url = asyncio.run(new_database(server_url, "bench"))
    parsed = make_url(url)
    datastore = PostgresDatastore(
        parsed.database or "",
        parsed.host or "127.0.0.1",
        parsed.port or 5432,
        parsed.username or "postgres",
        parsed.password or "",
        pool_size=writers,
        max_overflow=0,
    )
    recorder = PostgresApplicationRecorder(datastore)
    recorder.create_table()
    state = str(PAYLOAD).encode()
    per_writer = APPENDS_PER_RUN // writers

    def writer() -> None:
        originator = uuid.uuid4()
        for i in range(per_writer):
            if i % 10 == 0:
                originator = uuid.uuid4()
            recorder.insert_events(
                [StoredEvent(originator_id=originator, originator_version=i % 10 + 1, topic="t", state=state)]
            )

    threads = [threading.Thread(target=writer) for _ in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = per_writer * writers / (time.perf_counter() - started)
    datastore.close()
    asyncio.run(drop_database(server_url, url))
    return rate


async def bench_relay_latency(server_url: str, bootstrap: str, samples: int = 100) -> list[float]:
    url = await new_database(server_url, "bench")
    engine = create_engine(url)
    await install(engine)
    topic = f"bench.latency.{uuid.uuid4().hex[:8]}"
    await create_topics_async(bootstrap, [topic], partitions=1)
    relay = OutboxRelay(engine, url, bootstrap, poll_interval=3600)  # NOTIFY wakes it, not polling
    await relay.start()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=5
    )
    await consumer.start()
    store = EventStore(engine)  # no in-process wake-up: measures the NOTIFY path
    latencies: list[float] = []
    try:
        while not relay.is_leader:
            await asyncio.sleep(0.05)
        for i in range(-1, samples):  # the first one warms up the producer and is not counted
            await asyncio.sleep(0.1)  # idle system between samples
            committed = time.perf_counter()
            await store.append(f"lat-{i}", 0, [new_event(f"lat-{i}", topic)])
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                if any(batch.values()):
                    if i >= 0:
                        latencies.append((time.perf_counter() - committed) * 1000)
                    break
    finally:
        await consumer.stop()
        await relay.stop()
        await engine.dispose()
        await drop_database(server_url, url)
    return latencies


@pytest.mark.integration
def test_append_throughput_and_relay_latency(database_server_url: str, kafka_bootstrap: str) -> None:
    results: dict[str, dict[int, float | None]] = {
        "event store": {},
        "plain asyncpg": {},
        "eventsourcing lib": {},
    }
    for writers in WRITER_COUNTS:
        results["event store"][writers] = asyncio.run(bench_event_store(database_server_url, writers))
        results["plain asyncpg"][writers] = asyncio.run(bench_plain_asyncpg(database_server_url, writers))
        results["eventsourcing lib"][writers] = bench_eventsourcing_library(database_server_url, writers)
    latencies = asyncio.run(bench_relay_latency(database_server_url, kafka_bootstrap))

    print(f"\nappends/s ({APPENDS_PER_RUN} single-event appends per run, one commit each)")
    print(f"{'':20}" + "".join(f"{w:>3} writer(s)  " for w in WRITER_COUNTS))
    for name, row in results.items():
        print(f"{name:20}" + "".join(f"{(v or 0):>14,.0f}" if v else f"{'n/a':>14}" for v in row.values()))
    ours = results["event store"][16] or 0
    for name in ("plain asyncpg", "eventsourcing lib"):
        ref = results[name][16]
        if ref:
            print(f"event store / {name} at 16 writers: {ours / ref:.2f}x")
    scaling = ours / (results["event store"][1] or 1)
    print(f"event store 16 writers / 1 writer: {scaling:.2f}x")
    four = results["event store"][4] or 1
    plain = results["plain asyncpg"][16] or 1
    record(
        "appends at 16 writers",
        f"{ours:,.0f}/s (16/4 writers {ours / four:.2f}x)",
        goal=">= 0.8x, 16 writers >= 1.5x 4",
        anchor=f"plain asyncpg {plain:,.0f}/s",
        ratio=ours / plain,
        met=ours / plain >= 0.8 and ours / four >= 1.5,
    )
    ranked = sorted(latencies)
    p99 = ranked[min(len(ranked) - 1, round(0.99 * len(ranked)) - 1)]
    print(
        f"commit -> Kafka on an idle system (NOTIFY wake-up), {len(latencies)} samples: "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms"
    )
