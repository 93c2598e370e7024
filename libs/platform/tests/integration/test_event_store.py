"""Event store: appends with expected versions, conflicts, loads, projections in the same transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.eventsourcing.store import (
    ConcurrencyConflict,
    DuplicateEventId,
    EventStore,
    NewEvent,
    RecordedEvent,
)

pytestmark = pytest.mark.integration


def event(case_id: str, n: int, **data: Any) -> NewEvent:
    return NewEvent(
        event_type="collections.case.balance_changed.v1",
        topic="collections.cases",
        subject=case_id,
        data={"n": n, **data},
        envelope={"source": "/case-service", "actor": "u-1", "actorrole": "collector"},
    )


async def test_append_then_load_returns_the_stream_in_order(database: Any) -> None:
    store = EventStore(database.engine)
    first = await store.append("case-1", 0, [event("case-1", 1), event("case-1", 2)])
    await store.append("case-1", 2, [event("case-1", 3)])

    loaded = await store.load("case-1")

    assert [e.stream_version for e in loaded] == [1, 2, 3]
    assert [e.payload["n"] for e in loaded] == [1, 2, 3]
    assert loaded[0].event_id == first[0].event_id
    assert loaded[0].position < loaded[2].position
    assert await store.version("case-1") == 3
    assert [e.stream_version for e in await store.load("case-1", after_version=2)] == [3]


async def test_stale_expected_version_is_a_conflict_and_writes_nothing(database: Any) -> None:
    store = EventStore(database.engine)
    await store.append("case-2", 0, [event("case-2", 1)])

    with pytest.raises(ConcurrencyConflict):
        await store.append("case-2", 0, [event("case-2", 99)])
    with pytest.raises(ConcurrencyConflict):  # ahead of the stream: would leave a gap
        await store.append("case-2", 5, [event("case-2", 99)])

    assert [e.payload["n"] for e in await store.load("case-2")] == [1]


async def test_concurrent_appends_to_one_stream_one_wins(database: Any) -> None:
    store = EventStore(database.engine)
    await store.append("case-3", 0, [event("case-3", 0)])

    results = await asyncio.gather(
        *[store.append("case-3", 1, [event("case-3", i)]) for i in range(1, 9)], return_exceptions=True
    )

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, ConcurrencyConflict) for r in losers)
    assert await store.version("case-3") == 2


async def test_an_event_id_is_stored_once(database: Any) -> None:
    store = EventStore(database.engine)
    original = event("case-4", 1)
    await store.append("case-4", 0, [original])

    with pytest.raises(DuplicateEventId):
        await store.append("case-4", 1, [original])


async def test_projection_runs_in_the_appending_transaction(database: Any) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE balances (case_id text primary key, n int not null)"))

    async def project(conn: AsyncConnection, events: Sequence[RecordedEvent]) -> None:
        for e in events:
            if e.payload.get("fail"):
                raise RuntimeError("read model refused the event")
            await conn.execute(
                text(
                    "INSERT INTO balances VALUES (:c, :n) ON CONFLICT (case_id) DO UPDATE SET n = excluded.n"
                ),
                {"c": e.stream_id, "n": e.payload["n"]},
            )

    store = EventStore(database.engine)
    store.add_projector(project)
    await store.append("case-5", 0, [event("case-5", 7)])
    with pytest.raises(RuntimeError):
        await store.append("case-5", 1, [event("case-5", 8, fail=True)])

    async with database.engine.connect() as conn:
        balance = (await conn.execute(text("SELECT n FROM balances WHERE case_id = 'case-5'"))).scalar_one()
    assert balance == 7
    assert await store.version("case-5") == 1  # the failed projection rolled the append back


async def test_append_joins_the_callers_transaction(database: Any) -> None:
    store = EventStore(database.engine)
    async with database.engine.connect() as conn:
        tx = await conn.begin()
        await store.append("case-6", 0, [event("case-6", 1)], conn=conn)
        with pytest.raises(ConcurrencyConflict):
            await store.append("case-6", 0, [event("case-6", 2)], conn=conn)
        # The caller's transaction is still usable after the conflict.
        await store.append("case-6", 1, [event("case-6", 3)], conn=conn)
        await tx.rollback()

    assert await store.load("case-6") == []
    assert [e.event_id for e in await store.read_all()] == []


async def test_many_new_streams_in_one_statement_all_or_nothing(database: Any) -> None:
    store = EventStore(database.engine)
    await store.append("case-taken", 0, [event("case-taken", 1)])
    async with database.engine.begin() as conn:
        count = await store.append_new_streams(
            [("case-a", [event("case-a", 1), event("case-a", 2)]), ("case-b", [event("case-b", 1)])],
            conn=conn,
        )
    assert count == 3
    assert [e.stream_version for e in await store.load("case-a")] == [1, 2]
    async with database.engine.begin() as conn:
        with pytest.raises(ConcurrencyConflict):
            await store.append_new_streams(
                [("case-c", [event("case-c", 1)]), ("case-taken", [event("case-taken", 9)])], conn=conn
            )
    assert await store.load("case-c") == []  # nothing of the failed batch was written
    async with database.engine.connect() as conn:
        queued = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
    assert queued == 4  # every appended event is in the outbox for the relay
