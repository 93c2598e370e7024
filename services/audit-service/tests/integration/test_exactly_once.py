"""Exactly once across a restart mid-batch: a batch the database refuses half-way leaves nothing behind,
and the next instance resumes from the stored chain heads, not from Kafka's committed offsets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_service.application.ingest import BATCHES_REFUSED
from audit_service.application.runtime import group_id
from dcp_devstack.kafka import create_topics_async
from dcp_devstack.stack import catalogue_topics
from dcp_events.catalogue import CaseAssigned
from dcp_events.catalogue.cases import Assignee
from dcp_events.catalogue.enums import AssigneeKind

from .conftest import ADMIN, AuditUnderTest, drop_database, eventually, migrate, new_database, start_service

pytestmark = pytest.mark.integration

N = 120
POISON = 70
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_restart_mid_batch_records_every_record_exactly_once(
    kafka_bootstrap: str, database_server_url: str
) -> None:
    prefix = f"tx{uuid.uuid4().hex[:8]}."
    await create_topics_async(kafka_bootstrap, [prefix + t for t in catalogue_topics()])
    database_url = await new_database(database_server_url)
    await migrate(database_url)
    key = Ed25519PrivateKey.generate()
    manager, client, runtime, settings = await start_service(
        kafka_bootstrap, database_url, prefix, key, batch_size=50
    )
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    audit = AuditUnderTest(client, runtime, settings, database_url, prefix, kafka_bootstrap, key, producer)
    su = await audit.superuser()
    restarted = None
    try:
        # The database refuses the record with reason "poison" half-way through its batch.
        await su.execute(
            """CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN IF position('"poison"' in convert_from(NEW.entry, 'UTF8')) > 0 THEN
                 RAISE EXCEPTION 'simulated crash mid-batch'; END IF; RETURN NEW; END $$"""
        )
        await su.execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON audit_entries FOR EACH ROW "
            "EXECUTE FUNCTION refuse_poison()"
        )
        refused_before = BATCHES_REFUSED.labels(prefix + "collections.cases")._value.get()
        for n in range(N):
            payload = CaseAssigned(
                assignee=Assignee(kind=AssigneeKind.COLLECTOR, id=f"usr-{n}"),
                reason="poison" if n == POISON else f"balancing {n}",
            )
            await audit.publish(payload, "case-once", T0 + timedelta(seconds=n))

        async def refused() -> bool:
            return BATCHES_REFUSED.labels(prefix + "collections.cases")._value.get() > refused_before

        await eventually(refused, 30, "a refused batch")
        stored = await audit.entry_count()
        # The batch holding the poison left nothing behind: everything stored lies before it (all of
        # it, when a batch happened to start at the poison record).
        assert stored <= POISON
        assert await su.fetchval('SELECT max("offset") FROM audit_entries') < POISON

        # Crash and restart; Kafka's committed offsets rewound to 0, so only the stored heads can be right.
        await client.aclose()
        await manager.__aexit__(None, None, None)
        await su.execute("DROP TRIGGER refuse_poison ON audit_entries")
        rewind = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=group_id(settings), enable_auto_commit=False
        )
        await rewind.start()
        try:
            tps = [TopicPartition(prefix + "collections.cases", p) for p in range(3)]
            rewind.assign(tps)
            await rewind.commit({tp: 0 for tp in tps})
        finally:
            await rewind.stop()
        manager, client, runtime, settings = await start_service(
            kafka_bootstrap, database_url, prefix, key, batch_size=50
        )
        restarted = manager
        audit.client, audit.runtime = client, runtime
        await audit.wait_for_entries(N)

        rows = await su.fetch('SELECT partition, "offset", seq FROM audit_entries ORDER BY partition, seq')
        assert len(rows) == N
        assert [r["offset"] for r in rows] == [r["seq"] for r in rows] == list(range(N))
        assert [(t, p, o) for t, p, o in audit.published] == [
            ("collections.cases", rows[0]["partition"], o) for o in range(N)
        ]
        assert (await audit.client.post("/audit/checkpoints", headers=ADMIN)).status_code == 201
        report = (await audit.get("/audit/verify")).json()
        assert report["ok"] and report["entries"] == N, report
    finally:
        await su.close()
        await producer.stop()
        await client.aclose()
        if restarted is not None:
            await restarted.__aexit__(None, None, None)
        await drop_database(database_server_url, database_url)
