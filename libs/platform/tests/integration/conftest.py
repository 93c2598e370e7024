"""Fixtures for the machinery's integration tests: a fresh database and fresh topics per test."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncEngine

from dcp_devstack.testing import eventually as eventually  # re-exported: the tests import it from here
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.schema import install

if TYPE_CHECKING:
    from dcp_platform.eventsourcing.store import NewEvent


@dataclass
class Database:
    url: str
    engine: AsyncEngine


@pytest.fixture
async def database(fresh_database: str) -> AsyncIterator[Database]:
    """A fresh database with the machinery's tables installed."""
    engine = create_engine(fresh_database, pool_size=20, max_overflow=5)
    await install(engine)
    try:
        yield Database(fresh_database, engine)
    finally:
        await engine.dispose()


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
