"""Outbox relay: per-case order, nothing skipped when commits come out of order, NOTIFY wake-up."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import text

from dcp_events.canonical import decode_event
from dcp_platform.eventsourcing.relay import OutboxRelay
from dcp_platform.eventsourcing.store import EventStore

from .conftest import case_event, eventually, read_topic

pytestmark = pytest.mark.integration


async def backlog(database: Any) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one())


async def test_relay_publishes_each_case_in_stream_order(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("cases")
    store = EventStore(database.engine)
    versions: dict[str, int] = defaultdict(int)

    async def write(case_id: str) -> None:
        for n in range(1, 11):
            await store.append(case_id, versions[case_id], [case_event(case_id, n, topic=topic)])
            versions[case_id] += 1

    await asyncio.gather(*[write(f"case-{i}") for i in range(8)])
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, poll_interval=0.05)
    await relay.start()
    try:
        messages = await read_topic(kafka_bootstrap, topic, expect=80)
    finally:
        await relay.stop()

    seen: dict[str, list[int]] = defaultdict(list)
    for key, value, _ in messages:
        event = decode_event(value)
        assert key == event.subject.encode()
        seen[event.subject].append(event.sequence or 0)
        assert event.data["n"] == event.sequence
    assert len(messages) == 80
    assert all(seq == list(range(1, 11)) for seq in seen.values()), seen
    assert await backlog(database) == 0


async def test_event_committed_after_a_later_numbered_one_is_not_skipped(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("reverse")
    store = EventStore(database.engine)
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, poll_interval=0.05)

    async with database.engine.connect() as slow:
        slow_tx = await slow.begin()
        # Takes the lower position but commits last.
        early = await store.append("case-a", 0, [case_event("case-a", 1, topic=topic)], conn=slow)
        late = await store.append("case-b", 0, [case_event("case-b", 1, topic=topic)])
        assert early[0].position < late[0].position
        assert await relay.publish_pending() == 1  # only the committed, later-numbered event
        await slow_tx.commit()

    assert await relay.publish_pending() == 1
    await relay.stop()
    messages = await read_topic(kafka_bootstrap, topic, expect=2)
    assert sorted(decode_event(v).subject for _, v, _ in messages) == ["case-a", "case-b"]


async def test_relay_wakes_on_a_commit_from_another_process(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("notify")
    # A poll interval of an hour: only the NOTIFY from the outbox trigger can wake it.
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, poll_interval=3600)
    await relay.start()
    try:
        await eventually(lambda: _true(relay.is_leader))
        await asyncio.sleep(0.3)  # let the relay fall asleep on its empty outbox
        other_writer = EventStore(database.engine)  # no in-process wake-up callback
        await other_writer.append("case-n", 0, [case_event("case-n", 1, topic=topic)])
        messages = await read_topic(kafka_bootstrap, topic, expect=1, timeout=10)
    finally:
        await relay.stop()
    assert len(messages) == 1


async def _true(value: bool) -> bool:
    return value


async def test_only_one_relay_publishes_per_database(database: Any, kafka_bootstrap: str) -> None:
    first = OutboxRelay(database.engine, database.url, kafka_bootstrap, poll_interval=0.05)
    second = OutboxRelay(database.engine, database.url, kafka_bootstrap, poll_interval=0.05)
    await first.start()
    await eventually(lambda: _true(first.is_leader))
    await second.start()
    await asyncio.sleep(0.5)
    assert not second.is_leader
    await first.stop()
    await eventually(lambda: _true(second.is_leader))
    await second.stop()


async def test_progress_is_recorded(database: Any, kafka_bootstrap: str, new_topic: Any) -> None:
    topic = await new_topic("progress")
    store = EventStore(database.engine)
    recorded = await store.append("case-p", 0, [case_event("case-p", n, topic=topic) for n in (1, 2, 3)])
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, name="case-relay")
    assert await relay.publish_pending() == 3
    await relay.stop()
    async with database.engine.connect() as conn:
        row = (await conn.execute(text("SELECT * FROM relay_progress WHERE relay = 'case-relay'"))).one()
    assert row.last_position == recorded[-1].position
    assert row.published_total == 3


async def test_topic_prefix_isolates_deployments_on_one_broker(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    prefixed = await new_topic("staging")
    prefix, _, logical = prefixed.partition(".")
    store = EventStore(database.engine)
    await store.append("case-x", 0, [case_event("case-x", 1, topic=logical)])
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, topic_prefix=prefix + ".")
    assert await relay.publish_pending() == 1
    await relay.stop()
    [(key, _, _)] = await read_topic(kafka_bootstrap, prefixed, expect=1)
    assert key == b"case-x"


async def test_records_carry_the_cloudevents_structured_mode_header(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("binding")
    store = EventStore(database.engine)
    await store.append("case-h", 0, [case_event("case-h", 1, topic=topic)])
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap)
    await relay.publish_pending()
    await relay.stop()
    [(_, _, headers)] = await read_topic(kafka_bootstrap, topic, expect=1)
    assert ("content-type", b"application/cloudevents+json") in headers
