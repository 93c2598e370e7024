"""Audit trail figures: ingest rate next to a plain aiokafka consumer on the same topic, and verification
rate next to a plain SHA-256 loop over the same bytes. Prints figures and ratios; asserts no timings."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_service.application.ingest import TrailWriter, replay
from audit_service.application.verify import verify_trail
from audit_service.main import MIGRATIONS
from audit_service.settings import AuditServiceSettings
from dcp_devstack.benchreport import record
from dcp_devstack.kafka import create_topics_async
from dcp_devstack.stack import catalogue_topics
from dcp_devstack.testing import drop_database, new_database
from dcp_events import encode_event, new_event
from dcp_events.catalogue.examples import EXAMPLES
from dcp_platform import migrations

pytestmark = pytest.mark.integration

N = 20000
TOPIC = "collections.contacts"


async def test_bench_audit_ingest_and_verification(kafka_bootstrap: str, database_server_url: str) -> None:
    prefix = f"tb{uuid.uuid4().hex[:8]}."
    await create_topics_async(kafka_bootstrap, [prefix + t for t in catalogue_topics()])
    payload = EXAMPLES["collections.contact.attempted.v2"]
    t0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        futures = []
        for n in range(N):
            case = f"case-{n % 500}"
            event = new_event(
                payload,
                subject=case,
                source="/bench",
                actor="usr-alice",
                actorrole="collector",
                correlationid=str(n),
                time=t0 + timedelta(seconds=n),
            )
            futures.append(await producer.send(prefix + TOPIC, encode_event(event), key=case.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()

    # Plain aiokafka: read every record of the topic, nothing else.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, max_poll_records=1000
    )
    await consumer.start()
    tps = [TopicPartition(prefix + TOPIC, p) for p in range(3)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    started = time.perf_counter()
    seen = 0
    while seen < N:
        for records in (await consumer.getmany(timeout_ms=500, max_records=1000)).values():
            seen += len(records)
    plain_seconds = time.perf_counter() - started
    await consumer.stop()

    url = await new_database(database_server_url, "b_audit")
    settings = AuditServiceSettings(
        service_database_url=url,
        kafka_topic_prefix=prefix,
        audit_signing_key=None,
        kafka_bootstrap_servers=kafka_bootstrap,
    )
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, settings.sqlalchemy_url)
    pool = await asyncpg.create_pool(settings.trail_dsn, min_size=1, max_size=4)
    try:
        writer = TrailWriter(pool, topic_prefix=prefix)
        started = time.perf_counter()
        written = await replay(writer, kafka_bootstrap, [prefix + TOPIC])
        ingest_seconds = time.perf_counter() - started
        assert written == N

        key = Ed25519PrivateKey.generate()
        started = time.perf_counter()
        result = await verify_trail(pool, key.public_key())
        verify_seconds = time.perf_counter() - started
        assert result.ok or result.checkpoints.checked == 0
        assert result.entries == N

        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT prev_hash, entry FROM audit_entries ORDER BY topic, partition, seq"
            )
        pairs = [(bytes(r["prev_hash"]), bytes(r["entry"])) for r in rows]
        started = time.perf_counter()
        for prev, entry in pairs:
            hashlib.sha256(prev + entry).digest()
        sha_seconds = time.perf_counter() - started
        mean_entry = sum(len(e) for _, e in pairs) / len(pairs)
    finally:
        await pool.close()
        await drop_database(database_server_url, url)

    plain_rate, ingest_rate = N / plain_seconds, N / ingest_seconds
    verify_rate, sha_rate = N / verify_seconds, N / sha_seconds
    print(f"\naudit bench: {N} ContactAttempted records on 3 partitions, mean entry {mean_entry:.0f} bytes")
    print(f"  plain aiokafka consume : {plain_rate:10.0f} records/s")
    print(
        f"  trail ingest (hash+COPY+offset, one txn per partition batch): {ingest_rate:10.0f} entries/s"
        f"  = {ingest_rate / plain_rate:.2f} x plain consume"
    )
    print(f"  plain SHA-256 loop     : {sha_rate:10.0f} hashes/s")
    print(
        f"  /audit/verify (DB read, rehash, re-derive columns, Merkle): {verify_rate:10.0f} entries/s"
        f"  = {verify_rate / sha_rate:.3f} x plain SHA-256"
    )
    record(
        "audit ingest",
        f"{ingest_rate:,.0f} entries/s",
        goal=">= 0.5x",
        anchor=f"plain aiokafka consume {plain_rate:,.0f}/s",
        ratio=ingest_rate / plain_rate,
        met=ingest_rate / plain_rate >= 0.5,
    )
    record(
        "verification",
        f"{verify_rate:,.0f} entries/s",
        goal=">= 0.3x",
        anchor=f"plain SHA-256 loop {sha_rate:,.0f}/s",
        ratio=verify_rate / sha_rate,
        met=verify_rate / sha_rate >= 0.3,
    )
