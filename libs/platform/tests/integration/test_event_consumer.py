"""Consumer runtime: exactly-once effects with offsets in the database, dead letters for poison messages."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_events.canonical import encode_event
from dcp_events.envelope import CloudEvent
from dcp_platform.eventsourcing.consumer import Delivery, EventConsumer

from .conftest import eventually, read_topic

pytestmark = pytest.mark.integration


def cloudevent(case_id: str, n: int, event_id: str | None = None) -> CloudEvent:
    import uuid

    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source="/payment-service",
        type="collections.payment.received.v1",
        time="2026-11-29T08:00:00Z",
        subject=case_id,
        data={"n": n},
        actor="core-banking",
        actorrole="integration",
        correlationid="corr-1",
    )


async def make_effects_table(database: Any) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE effects (event_id text, subject text, n int)"))


async def record_effect(conn: AsyncConnection, delivery: Delivery) -> None:
    if delivery.event.data.get("fail"):
        raise RuntimeError("the handler cannot apply this event")
    await conn.execute(
        text("INSERT INTO effects VALUES (:id, :s, :n)"),
        {"id": delivery.event_id, "s": delivery.event.subject, "n": delivery.event.data["n"]},
    )


async def effects(database: Any) -> list[tuple[str, int]]:
    async with database.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT subject, n FROM effects ORDER BY subject, n"))).all()
    return [(r.subject, r.n) for r in rows]


async def produce(bootstrap: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


def consumer_for(database: Any, bootstrap: str, topic: str, **kwargs: Any) -> EventConsumer:
    return EventConsumer(
        database.engine,
        bootstrap,
        group_id=f"g-{topic}",
        topics=[topic],
        handler=record_effect,
        retry_backoff=0.01,
        **kwargs,
    )


async def test_a_duplicated_message_has_one_effect(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("dup")
    await make_effects_table(database)
    event = cloudevent("case-1", 1)
    await produce(kafka_bootstrap, topic, [(b"case-1", encode_event(event))] * 3)
    await produce(kafka_bootstrap, topic, [(b"case-1", encode_event(cloudevent("case-1", 2)))])

    consumer = consumer_for(database, kafka_bootstrap, topic)
    await consumer.start()
    try:
        await eventually(lambda: _has(database, 2))
    finally:
        await consumer.stop()
    assert await effects(database) == [("case-1", 1), ("case-1", 2)]


async def _has(database: Any, count: int) -> bool:
    return len(await effects(database)) >= count


async def test_poison_message_goes_to_the_dlq_and_the_next_one_is_processed(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("poison")
    await make_effects_table(database)
    failing = cloudevent("case-2", 2).model_copy(update={"data": {"n": 2, "fail": True}})
    await produce(
        kafka_bootstrap,
        topic,
        [
            (b"case-2", b"{not json"),
            (b"case-2", encode_event(failing)),
            (b"case-2", encode_event(cloudevent("case-2", 3))),
        ],
    )
    consumer = consumer_for(database, kafka_bootstrap, topic, max_attempts=3)
    await consumer.start()
    try:
        await eventually(lambda: _has(database, 1))
    finally:
        await consumer.stop()

    assert await effects(database) == [("case-2", 3)]
    dead = await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=2)
    assert [v for _, v, _ in dead] == [b"{not json", encode_event(failing)]
    first_headers = dict(dead[0][2])
    assert b"cannot decode" in first_headers["dlq.error"]
    assert first_headers["dlq.original.topic"] == topic.encode()
    assert first_headers["dlq.original.offset"] == b"0"
    assert b"RuntimeError" in dict(dead[1][2])["dlq.error"]
    assert dict(dead[1][2])["dlq.original.offset"] == b"1"


async def test_restart_after_the_database_commit_has_no_double_effect(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("crash")
    await make_effects_table(database)
    await produce(
        kafka_bootstrap, topic, [(b"case-3", encode_event(cloudevent("case-3", n))) for n in (1, 2, 3)]
    )

    class Killed(BaseException):
        """The process dying: not an error the consume loop retries."""

    async def die_after_commit() -> None:
        # The database transaction committed; the process dies before anything else happens
        # (in particular before Kafka learns the new offset).
        raise Killed

    crashing = consumer_for(database, kafka_bootstrap, topic, after_commit=die_after_commit)
    await crashing.start()
    with pytest.raises(Killed):
        await asyncio.wait_for(crashing.wait(), timeout=30)
    await crashing.stop()
    # The first fetched batch committed before the "crash" (a fetch may bring 1 to 3 of the messages).
    committed = await effects(database)
    assert committed and committed == [("case-3", n) for n in range(1, len(committed) + 1)]

    await produce(kafka_bootstrap, topic, [(b"case-3", encode_event(cloudevent("case-3", 4)))])
    restarted = consumer_for(database, kafka_bootstrap, topic, dedup=False)
    await restarted.start()
    try:
        await eventually(lambda: _has(database, 4))
        await asyncio.sleep(0.5)  # anything re-delivered would show up now
    finally:
        await restarted.stop()
    # Without the dedup table too, the stored offsets alone prevent a second effect.
    assert await effects(database) == [("case-3", 1), ("case-3", 2), ("case-3", 3), ("case-3", 4)]


async def test_events_a_handler_appends_are_caused_by_the_consumed_event(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    from dcp_events.catalogue.cases import CaseHoldPlaced
    from dcp_platform.clock import FixedClock
    from dcp_platform.eventsourcing.events import event_for
    from dcp_platform.eventsourcing.store import EventStore

    topic = await new_topic("cause")
    store = EventStore(database.engine)
    clock = FixedClock(datetime(2026, 11, 29, 9, 0, tzinfo=UTC))

    async def place_hold(conn: AsyncConnection, delivery: Delivery) -> None:
        hold = CaseHoldPlaced(hold_id="h-1", hold_type="dispute", reason="debtor disputes")
        event = event_for(hold, subject=delivery.event.subject, source="/case-service", clock=clock)
        await store.append(delivery.event.subject, 0, [event], conn=conn)

    consumed = cloudevent("case-7", 1).model_copy(
        update={
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "correlationid": "flow-9",
        }
    )
    await produce(kafka_bootstrap, topic, [(b"case-7", encode_event(consumed))])
    consumer = EventConsumer(
        database.engine, kafka_bootstrap, group_id=f"g-{topic}", topics=[topic], handler=place_hold
    )
    await consumer.start()
    try:
        await eventually(lambda: _stream_exists(store, "case-7"))
    finally:
        await consumer.stop()
    [appended] = await store.load("case-7")
    assert appended.metadata["causationid"] == consumed.id
    assert appended.metadata["correlationid"] == "flow-9"
    assert appended.metadata["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
    # Acted by whoever acted the consumed event (the handler does not bind it again).
    assert (appended.metadata["actor"], appended.metadata["actorrole"]) == ("core-banking", "integration")


async def _stream_exists(store: Any, stream_id: str) -> bool:
    return bool(await store.load(stream_id))


async def test_dead_letters_are_redriven_once_after_the_fix(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    from dcp_platform import dlq

    topic = await new_topic("redrive")
    await make_effects_table(database)
    fixed = False

    async def handler(conn: AsyncConnection, delivery: Delivery) -> None:
        if not fixed:
            raise RuntimeError("bug in the handler")
        await record_effect(conn, delivery)

    await produce(
        kafka_bootstrap, topic, [(b"case-8", encode_event(cloudevent("case-8", n))) for n in (1, 2)]
    )
    consumer = EventConsumer(
        database.engine,
        kafka_bootstrap,
        group_id=f"g-{topic}",
        topics=[topic],
        handler=handler,
        max_attempts=2,
        retry_backoff=0.01,
    )
    await consumer.start()
    try:
        await eventually(lambda: _letters(kafka_bootstrap, topic, 2))
        letters = await dlq.list_letters(kafka_bootstrap, topic)
        assert [letter.header("dlq.original.offset") for letter in letters] == ["0", "1"]
        assert "bug in the handler" in letters[0].header("dlq.error")
        assert await effects(database) == []

        fixed = True
        assert len(await dlq.redrive(kafka_bootstrap, topic)) == 2
        await eventually(lambda: _has(database, 2))
        assert len(await dlq.redrive(kafka_bootstrap, topic)) == 0  # nothing redriven twice
    finally:
        await consumer.stop()
    assert await effects(database) == [("case-8", 1), ("case-8", 2)]


async def _letters(bootstrap: str, topic: str, count: int) -> bool:
    from dcp_platform import dlq

    return len(await dlq.list_letters(bootstrap, topic)) >= count


async def test_events_a_subscription_does_not_act_on_are_skipped_without_a_dedup_record(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("skip")
    await make_effects_table(database)
    acted_on = cloudevent("case-9", 1)
    skipped = cloudevent("case-9", 2).model_copy(update={"type": "collections.payment.reversed.v1"})
    unknown = cloudevent("case-9", 3).model_copy(update={"type": "collections.payment.refunded.v1"})
    await produce(
        kafka_bootstrap,
        topic,
        [(b"case-9", encode_event(e)) for e in (skipped, acted_on, unknown)],
    )
    consumer = consumer_for(
        database, kafka_bootstrap, topic, handles=frozenset({"collections.payment.received"})
    )
    await consumer.start()
    try:
        await eventually(lambda: _has(database, 2))
    finally:
        await consumer.stop()
    # The reversal (catalogued, not acted on) never reached the handler and left no dedup record;
    # a type the catalogue does not know still reaches it (the real handlers dead-letter those).
    assert await effects(database) == [("case-9", 1), ("case-9", 3)]
    async with database.engine.connect() as conn:
        recorded = (await conn.execute(text("SELECT event_id FROM processed_events"))).scalars().all()
    assert sorted(recorded) == sorted([str(acted_on.id), str(unknown.id)])


async def test_a_batch_applies_together_and_one_failing_record_is_isolated_without_a_second_effect(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    """The batch runs under one savepoint; when a record in its middle fails, what the records
    before it did is rolled back and applied again one by one: each effect once, one dead letter."""
    topic = await new_topic("batch-isolate")
    await make_effects_table(database)
    failing = cloudevent("case-5", 2).model_copy(update={"data": {"n": 2, "fail": True}})
    events = [cloudevent("case-5", 1), failing, cloudevent("case-5", 3), cloudevent("case-5", 4)]
    await produce(kafka_bootstrap, topic, [(b"case-5", encode_event(e)) for e in events])
    calls: list[int] = []

    async def together(conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
        calls.append(len(deliveries))
        for delivery in deliveries:
            await record_effect(conn, delivery)

    consumer = consumer_for(database, kafka_bootstrap, topic, max_attempts=2, batch_handler=together)
    await consumer.start()
    try:
        await eventually(lambda: _has(database, 3))
        dead = await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=1)
    finally:
        await consumer.stop()

    assert await effects(database) == [("case-5", 1), ("case-5", 3), ("case-5", 4)]
    assert [dict(h)["dlq.original.offset"] for _, _, h in dead] == [b"1"]
    assert calls and sum(calls) >= len(events)  # the batch handler saw the records together first
    async with database.engine.connect() as conn:
        recorded = (await conn.execute(text("SELECT event_id FROM processed_events"))).scalars().all()
    assert sorted(recorded) == sorted(str(e.id) for e in events if e is not failing)


async def test_a_batch_handler_is_given_the_whole_partition_batch_once(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("batch-once")
    await make_effects_table(database)
    events = [cloudevent("case-6", n) for n in range(1, 6)]
    await produce(kafka_bootstrap, topic, [(b"case-6", encode_event(e)) for e in events])
    calls: list[list[int]] = []

    async def together(conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
        calls.append([d.offset for d in deliveries])
        for delivery in deliveries:
            await record_effect(conn, delivery)

    consumer = consumer_for(database, kafka_bootstrap, topic, batch_handler=together)
    await consumer.start()
    try:
        await eventually(lambda: _has(database, 5))
    finally:
        await consumer.stop()

    assert await effects(database) == [("case-6", n) for n in range(1, 6)]
    # Offsets in order, each handed over once, in as many calls as the broker's fetches took.
    assert [offset for call in calls for offset in call] == [0, 1, 2, 3, 4]


async def test_an_infrastructure_failure_is_retried_and_never_dead_letters_a_record(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    """The database connection lost mid-batch (terminated by the server) and the network failing:
    the batch is retried from the stored offsets until it goes through; every record applied once,
    none dead-lettered, and the loop keeps running."""
    topic = await new_topic("infra")
    await make_effects_table(database)
    await produce(
        kafka_bootstrap, topic, [(b"case-7", encode_event(cloudevent("case-7", n))) for n in range(1, 6)]
    )
    failures = {"terminated": False, "network": 0}

    async def flaky(conn: AsyncConnection, delivery: Delivery) -> None:
        if delivery.event.data["n"] == 3 and not failures["terminated"]:
            failures["terminated"] = True
            await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        if delivery.event.data["n"] == 4 and failures["network"] < 4:  # more than max_attempts
            failures["network"] += 1
            raise ConnectionResetError("connection reset by peer")
        await record_effect(conn, delivery)

    consumer = EventConsumer(
        database.engine,
        kafka_bootstrap,
        group_id=f"g-{topic}",
        topics=[topic],
        handler=flaky,
        retry_backoff=0.01,
    )
    await consumer.start()
    try:
        await eventually(lambda: _has(database, 5), timeout=60)
        await asyncio.sleep(0.5)
        assert consumer.health() is None
    finally:
        await consumer.stop()
    assert failures == {"terminated": True, "network": 4}
    assert await effects(database) == [("case-7", n) for n in range(1, 6)]
    assert await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=0, timeout=1) == []


async def test_a_record_too_large_for_the_dead_letter_topic_leaves_a_compact_letter(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    """A gzip batch the broker accepts holds a record of 3 MB that cannot be decoded: the dead
    letter keeps the reason, the coordinates, the size and digest, and the consumer goes on."""
    import hashlib

    topic = await new_topic("huge")
    await make_effects_table(database)
    huge = b"{" + b"x" * (3 * 2**20)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, compression_type="gzip", max_request_size=8 * 2**20
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=huge, key=b"case-8", partition=0)
        await producer.send_and_wait(
            topic, value=encode_event(cloudevent("case-8", 1)), key=b"case-8", partition=0
        )
    finally:
        await producer.stop()
    consumer = consumer_for(database, kafka_bootstrap, topic)
    await consumer.start()
    try:
        await eventually(lambda: _has(database, 1), timeout=30)
    finally:
        await consumer.stop()
    [(key, value, headers)] = await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=1)
    found = dict(headers)
    assert key == b"case-8" and value in (None, b"")
    assert b"cannot decode" in found["dlq.error"]
    assert found["dlq.original.offset"] == b"0"
    assert found["dlq.original.size"] == str(len(huge)).encode()
    assert found["dlq.original.sha256"] == hashlib.sha256(huge).hexdigest().encode()


async def test_a_catalogued_event_on_another_catalogue_topic_is_a_dead_letter(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    prefix = (await new_topic("wrong")) + "."
    from dcp_devstack.kafka import create_topics_async

    names = [f"{prefix}integration.placements", f"{prefix}integration.placements.dlq"]
    await create_topics_async(kafka_bootstrap, names, partitions=1)
    await make_effects_table(database)
    misplaced = cloudevent("case-9", 1)  # collections.payment.received: it belongs on collections.payments
    await produce(kafka_bootstrap, names[0], [(b"case-9", encode_event(misplaced))])
    consumer = EventConsumer(
        database.engine,
        kafka_bootstrap,
        group_id=f"g-{prefix}",
        topics=["integration.placements"],
        handler=record_effect,
        topic_prefix=prefix,
    )
    await consumer.start()
    try:
        [(_, value, headers)] = await read_topic(kafka_bootstrap, names[1], expect=1)
    finally:
        await consumer.stop()
    assert value == encode_event(misplaced)
    assert b"belongs on collections.payments" in dict(headers)["dlq.error"]
    assert await effects(database) == []


async def test_a_consumer_that_keeps_failing_says_so_and_recovers(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("unwell")
    await make_effects_table(database)
    await produce(kafka_bootstrap, topic, [(b"case-10", encode_event(cloudevent("case-10", 1)))])
    down = {"database": True}

    async def while_down(conn: AsyncConnection, delivery: Delivery) -> None:
        if down["database"]:
            raise OSError("could not connect to the database")
        await record_effect(conn, delivery)

    consumer = EventConsumer(
        database.engine, kafka_bootstrap, group_id=f"g-{topic}", topics=[topic], handler=while_down
    )
    await consumer.start()
    try:
        await eventually(lambda: _unhealthy(consumer), timeout=30)
        assert "could not connect" in (consumer.health() or "")
        down["database"] = False
        await eventually(lambda: _has(database, 1), timeout=60)
        await eventually(lambda: _healthy(consumer), timeout=30)
    finally:
        await consumer.stop()
    assert await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=0, timeout=1) == []


async def _unhealthy(consumer: EventConsumer) -> bool:
    return consumer.health() is not None


async def _healthy(consumer: EventConsumer) -> bool:
    return consumer.health() is None
