"""Fixtures for the machinery's integration tests: a fresh database and fresh topics per test."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.ext.asyncio import AsyncEngine

from dcp_platform.eventsourcing.postgres import asyncpg_dsn, create_engine
from dcp_platform.eventsourcing.schema import install

if TYPE_CHECKING:
    from dcp_platform.eventsourcing.store import NewEvent


@dataclass
class Database:
    url: str
    engine: AsyncEngine


def _with_database(server_url: str, name: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
async def database(database_server_url: str) -> AsyncIterator[Database]:
    name = f"es_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(asyncpg_dsn(database_server_url))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(database_server_url, name)
    engine = create_engine(url, pool_size=20, max_overflow=5)
    await install(engine)
    try:
        yield Database(url, engine)
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def new_topic(kafka_bootstrap: str) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()

    async def make(prefix: str = "test", partitions: int = 3) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        await admin.create_topics([NewTopic(name, partitions, 1), NewTopic(f"{name}.dlq", 1, 1)])
        return name

    try:
        yield make
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0
) -> list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]:
    """Every message of `topic` from the beginning, waiting until `expect` arrived (or the deadline)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    received: list[tuple[int, int, bytes | None, bytes, list[tuple[str, bytes]]]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(received) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                received += [(r.partition, r.offset, r.key, r.value, list(r.headers or ())) for r in records]
        # A short grace period shows whether more than expected arrived.
        batches = await consumer.getmany(timeout_ms=300)
        for records in batches.values():
            received += [(r.partition, r.offset, r.key, r.value, list(r.headers or ())) for r in records]
    finally:
        await consumer.stop()
    received.sort(key=lambda r: (r[0], r[1]))
    return [(k, v, h) for _, _, k, v, h in received]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


def case_event(case_id: str, n: int, *, topic: str = "collections.cases", **data: object) -> NewEvent:
    """A well-formed event for the machinery's tests (a balance change of case `case_id`)."""
    from dcp_platform.eventsourcing.store import NewEvent

    return NewEvent(
        event_type="collections.case.balance_changed.v1",
        topic=topic,
        subject=case_id,
        data={"n": n, **data},
        envelope={
            "source": "/case-service",
            "actor": "u-1",
            "actorrole": "collector",
            "correlationid": "corr-1",
            "time": "2026-11-29T08:00:00.000000Z",
            "jurisdiction": "US",
        },
    )
