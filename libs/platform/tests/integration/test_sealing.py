"""Personal data sealed at the producer, on the real broker and server: what Kafka holds shows no
personal value; a consumer with the key vault handles the whole payload; once the case's key is
destroyed, every consumer (also one replaying from the start) handles the redacted payload, the
record's bytes unchanged; a sealed payload that does not open is a dead letter."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_devstack.testing import temporary_database
from dcp_events.canonical import decode_event, to_canonical_bytes
from dcp_events.catalogue.examples import EXAMPLES
from dcp_platform.eventsourcing.consumer import Delivery, EventConsumer
from dcp_platform.eventsourcing.relay import OutboxRelay
from dcp_platform.eventsourcing.store import EventStore, NewEvent
from dcp_platform.sealing import DESTROYED, DataKeyVault, EventSealer, MasterKeys

from .conftest import eventually, read_topic

pytestmark = pytest.mark.integration

OPENED = "collections.case.opened.v1"
DATA = EXAMPLES[OPENED].model_dump(mode="json")
NAME = DATA["debtor"]["full_name"]
PHONE = DATA["debtor"]["phones"][0]["number"]


def master() -> MasterKeys:
    return MasterKeys([("k1", os.urandom(32))])


@pytest.fixture
async def vault(database_server_url: str) -> AsyncIterator[DataKeyVault]:
    async with temporary_database(database_server_url) as url:
        vault = DataKeyVault(url, master(), ttl=0.0)
        await vault.start()
        try:
            yield vault
        finally:
            await vault.stop()


def opened(case_id: str, topic: str) -> NewEvent:
    return NewEvent(
        event_type=OPENED,
        topic=topic,
        subject=case_id,
        data=DATA,
        envelope={
            "source": "/case-service",
            "actor": "integration",
            "actorrole": "integration",
            "correlationid": "corr-1",
            "time": "2026-11-29T08:00:00.000000Z",
            "jurisdiction": "GB",
        },
    )


async def seen_by(
    database: Any, bootstrap: str, topic: str, sealer: EventSealer | None, group: str
) -> list[Any]:
    got: list[Any] = []

    async def handle(conn: AsyncConnection, delivery: Delivery) -> None:
        got.append(delivery)

    consumer = EventConsumer(
        database.engine, bootstrap, group_id=group, topics=[topic], handler=handle, sealer=sealer
    )
    await consumer.start()
    try:

        async def handled() -> bool:
            return len(got) >= 1

        await eventually(handled, "the consumer handles the event", timeout=30)
    finally:
        await consumer.stop()
    return got


async def test_kafka_holds_the_personal_data_sealed_and_an_erasure_makes_it_unreadable(
    database: Any, kafka_bootstrap: str, new_topic: Any, vault: DataKeyVault
) -> None:
    topic = await new_topic("sealed")
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    store = EventStore(database.engine)
    await store.append(case_id, 0, [opened(case_id, topic)])
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, sealer=EventSealer(vault))
    assert await relay.publish_pending() == 1
    await relay.stop()

    [(_, value, _)] = await read_topic(kafka_bootstrap, topic, expect=1)
    text_on_kafka = value.decode()
    assert NAME not in text_on_kafka and PHONE not in text_on_kafka
    record = decode_event(value)
    assert record.sealeddata is not None
    assert record.data["debtor"]["full_name"] == "[erased]" and record.data["debtor"]["phones"] == []

    [delivery] = await seen_by(database, kafka_bootstrap, topic, EventSealer(vault), "with-keys")
    assert delivery.event.data == DATA  # the whole payload for a consumer with the vault
    assert delivery.value == value  # the record's bytes as they came (what the trail hashes)
    [plain] = await seen_by(database, kafka_bootstrap, topic, None, "without-keys")
    assert plain.event.data == record.data  # no vault: the redacted payload, still a valid one

    await vault.destroy([case_id], "erasure of the debtor's data")
    # Another process's vault (its cache) sees the destruction once its keys expire (ttl 0 here).
    other = DataKeyVault(vault._dsn, vault.master, ttl=0.0)
    try:
        [after] = await seen_by(database, kafka_bootstrap, topic, EventSealer(other), "replay-after-erasure")
        assert after.event.data == record.data and after.value == value
        assert (await other.keys([case_id], create=True))[case_id] is DESTROYED  # never created again
    finally:
        await other.stop()

    # What is published for the case after its erasure carries no sealed copy at all.
    await store.append(case_id, 1, [opened(case_id, topic)])
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, sealer=EventSealer(vault))
    assert await relay.publish_pending() == 1
    await relay.stop()
    messages = await read_topic(kafka_bootstrap, topic, expect=2)
    late = decode_event(messages[-1][1])
    assert late.sealeddata is None and NAME not in messages[-1][1].decode()


async def test_a_sealed_payload_that_does_not_open_is_a_dead_letter(
    database: Any, kafka_bootstrap: str, new_topic: Any, vault: DataKeyVault
) -> None:
    topic = await new_topic("tampered")
    case_id, other_case = f"case-{uuid.uuid4().hex[:8]}", f"case-{uuid.uuid4().hex[:8]}"
    store = EventStore(database.engine)
    await store.append(case_id, 0, [opened(case_id, topic)])
    await store.append(other_case, 0, [opened(other_case, topic)])
    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap, sealer=EventSealer(vault))
    await relay.publish_pending()
    await relay.stop()
    messages = await read_topic(kafka_bootstrap, topic, expect=2)
    docs = [json.loads(v) for _, v, _ in messages]
    # The sealed copy of one case moved onto the other case's event: it does not open there.
    docs[0]["sealeddata"], docs[1]["sealeddata"] = docs[1]["sealeddata"], docs[0]["sealeddata"]
    moved = await new_topic("moved")
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for doc in docs:
            await producer.send_and_wait(moved, to_canonical_bytes(doc), key=doc["subject"].encode())
    finally:
        await producer.stop()
    consumer = EventConsumer(
        database.engine,
        kafka_bootstrap,
        group_id="tampered",
        topics=[moved],
        handler=lambda conn, d: asyncio.sleep(0),
        sealer=EventSealer(vault),
    )
    await consumer.start()
    try:
        dead = await read_topic(kafka_bootstrap, f"{moved}.dlq", expect=2, timeout=30)
    finally:
        await consumer.stop()
    assert len(dead) == 2
    assert all(b"does not open" in dict(h)["dlq.error"] for _, _, h in dead)


async def test_two_producers_creating_a_case_key_at_once_get_the_same_key(vault: DataKeyVault) -> None:
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    second = DataKeyVault(vault._dsn, vault.master)
    try:
        a, b = await asyncio.gather(vault.keys([case_id], create=True), second.keys([case_id], create=True))
    finally:
        await second.stop()
    assert a[case_id] == b[case_id] and len(a[case_id]) == 32
    assert (await vault.keys(["never-seen"], create=False)) == {}


async def test_rotating_the_master_key_rewraps_every_live_key(vault: DataKeyVault) -> None:
    keys = await vault.keys(["case-r1", "case-r2"], create=True)
    await vault.destroy(["case-r3"], "erased")
    new = os.urandom(32)
    old_id = vault.master.current_id
    old = vault.master._keys[old_id]
    text_keys = f"k2:{base64.b64encode(new).decode()},{old_id}:{base64.b64encode(old).decode()}"
    rotated = DataKeyVault(vault._dsn, MasterKeys.parse(text_keys), ttl=0.0)
    try:
        assert await rotated.rewrap() == 2
        only_new = DataKeyVault(vault._dsn, MasterKeys.parse(f"k2:{base64.b64encode(new).decode()}"), ttl=0.0)
        try:
            assert await only_new.keys(["case-r1", "case-r2"], create=False) == keys
        finally:
            await only_new.stop()
    finally:
        await rotated.stop()
    pool = await vault._connection_pool()
    assert await pool.fetchval("SELECT count(*) FROM data_keys") == 3  # the tombstone stays as it was


async def test_a_dead_letter_keeps_personal_data_sealed_and_redrives_until_the_case_is_erased(
    database: Any, kafka_bootstrap: str, new_topic: Any, vault: DataKeyVault
) -> None:
    from aiokafka import AIOKafkaProducer

    from dcp_platform.dlq import redrive

    topic = await new_topic("placements")
    case_id = f"case-{uuid.uuid4().hex[:8]}"
    poison = json.dumps(
        {"specversion": "1.0", "subject": case_id, "data": {"full_name": NAME, "phone": PHONE}}
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, poison.encode(), key=case_id.encode())
    finally:
        await producer.stop()

    def dead_lettering() -> EventConsumer:
        return EventConsumer(
            database.engine,
            kafka_bootstrap,
            group_id="dead-letters",
            topics=[topic],
            handler=lambda conn, d: asyncio.sleep(0),
            sealer=EventSealer(vault),
        )

    consumer = dead_lettering()
    await consumer.start()
    try:
        [(key, value, headers)] = await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=1, timeout=30)
    finally:
        await consumer.stop()
    assert key == case_id.encode() and dict(headers)["dlq.sealed"] == b"v1"
    assert NAME.encode() not in value and PHONE.encode() not in value
    assert b"cannot decode" in dict(headers)["dlq.error"]

    redriven = await redrive(kafka_bootstrap, topic, vault=DataKeyVault(vault._dsn, vault.master))
    assert len(redriven) == 1
    on_topic = await read_topic(kafka_bootstrap, topic, expect=2)
    assert on_topic[-1][1] == poison.encode()  # the original bytes, as the producer sent them

    # Still poison: dead-lettered again. Then the case is erased: that letter can never be redriven.
    consumer = dead_lettering()
    await consumer.start()
    try:
        assert len(await read_topic(kafka_bootstrap, f"{topic}.dlq", expect=2, timeout=30)) == 2
    finally:
        await consumer.stop()
    await vault.destroy([case_id], "erasure")
    assert await redrive(kafka_bootstrap, topic, vault=DataKeyVault(vault._dsn, vault.master)) == []
    assert len(await read_topic(kafka_bootstrap, topic, expect=2)) == 2
