"""Audit trail figures: ingest rate next to a plain aiokafka consumer on the same topic, the same ingest
with personal-data commitments next to it without them, verification rate next to a plain SHA-256 loop
over the same bytes, checkpoint cost next to that loop, and consistency-proof checks next to Ed25519
verifications. Prints figures and ratios; asserts no timings."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_service.adapters.case_keys import CaseKeys, MasterKeys
from audit_service.application.commands import SignCheckpoint
from audit_service.application.handlers import sign_checkpoint
from audit_service.application.ingest import TrailWriter, replay
from audit_service.application.ports import AuditEnvironment, AuditUnitOfWork
from audit_service.application.verify import verify_trail
from audit_service.domain.checkpoints import CheckpointSigner
from audit_service.domain.commitments import SaltDeriver
from audit_service.domain.merkle import consistency_proof, leaf_hash, root_of, verify_consistency
from audit_service.main import MIGRATIONS
from audit_service.settings import AuditServiceSettings
from dcp_devstack.benchreport import record
from dcp_devstack.kafka import create_topics_async
from dcp_devstack.stack import catalogue_topics
from dcp_devstack.testing import drop_database, new_database
from dcp_events import CloudEvent, encode_event, new_event
from dcp_events.canonical import to_canonical_bytes
from dcp_events.catalogue.examples import EXAMPLES
from dcp_platform import migrations
from dcp_platform.clock import SystemClock
from dcp_platform.sealing import holds_personal, redacted, seal_payload

pytestmark = pytest.mark.integration

N = 20000
TOPIC = "collections.contacts"
MIXED_TOPIC = "collections.cases"
SEALED_TOPIC = "bench.sealed-contacts"  # TOPIC's records with their personal data sealed
_DATA_KEY = os.urandom(32)


def sealed(event: CloudEvent) -> bytes:
    """The record as a service's relay publishes it: personal data sealed under the case's key, the
    redacted payload in `data` (`dcp_platform.sealing`)."""
    doc = event.model_dump(mode="json", exclude_none=True)
    if holds_personal(doc["data"]):
        doc["sealeddata"] = seal_payload(
            _DATA_KEY,
            to_canonical_bytes(doc["data"]),
            event_id=str(doc["id"]),
            subject=str(doc["subject"]),
            event_type=str(doc["type"]),
        )
        doc["data"] = redacted(doc["data"])
    return to_canonical_bytes(doc)


async def test_bench_audit_ingest_and_verification(kafka_bootstrap: str, database_server_url: str) -> None:
    prefix = f"tb{uuid.uuid4().hex[:8]}."
    await create_topics_async(kafka_bootstrap, [prefix + t for t in [*catalogue_topics(), SEALED_TOPIC]])
    payloads = [EXAMPLES["collections.contact.attempted.v2"], EXAMPLES["collections.case.opened.v1"]]
    t0 = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        futures = []
        for n in range(N):
            case = f"case-{n % 500}"
            for topic, payload in (
                (TOPIC, payloads[n % 2]),  # the worst case: every other record a debtor's full data
                (MIXED_TOPIC, payloads[1 if n % 10 == 0 else 0]),  # one case opened per ten events
            ):
                event = new_event(
                    payload,
                    subject=case,
                    source="/bench",
                    actor="usr-alice",
                    actorrole="collector",
                    correlationid=str(n),
                    time=t0 + timedelta(seconds=n),
                )
                futures.append(await producer.send(prefix + topic, encode_event(event), key=case.encode()))
                if topic == TOPIC:  # the worst case again, as the platform's services publish it
                    futures.append(
                        await producer.send(prefix + SEALED_TOPIC, sealed(event), key=case.encode())
                    )
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

    # The same records into a trail of their own per run: personal data hashed in the clear, and
    # committed to (openings encrypted per case), in pairs run back to back, the order alternating from
    # pair to pair; the ratio is the median of the pairs' (the machine's noise moves both of a pair).
    rounds = 3
    urls = [await new_database(database_server_url, "b_audit") for _ in range(6 * rounds)]
    settings = AuditServiceSettings(
        service_database_url=urls[-1],
        kafka_topic_prefix=prefix,
        audit_signing_key=None,
        kafka_bootstrap_servers=kafka_bootstrap,
    )
    pools = []
    for url in urls:
        each = settings.model_copy(update={"service_database_url": url})
        await asyncio.to_thread(migrations.upgrade, MIGRATIONS, each.sqlalchemy_url)
        pools.append(await asyncpg.create_pool(each.trail_dsn, min_size=1, max_size=4))
    pool = pools[1]  # the worst-case mix, committed: checkpoint and verification figures from it
    try:
        salts = SaltDeriver(os.urandom(32))
        keys = CaseKeys(MasterKeys([("bench", os.urandom(32))]))
        runs: dict[str, list[tuple[float, float]]] = {TOPIC: [], MIXED_TOPIC: [], SEALED_TOPIC: []}

        async def ingest(trail_pool: asyncpg.Pool, topic: str, committed: bool) -> float:
            writer = TrailWriter(
                trail_pool,
                topic_prefix=prefix,
                salts=salts if committed else None,
                keys=keys if committed else None,
            )
            started = time.perf_counter()
            written = await replay(writer, kafka_bootstrap, [prefix + topic])
            assert written == N
            return time.perf_counter() - started

        for n in range(3 * rounds):
            topic = (TOPIC, MIXED_TOPIC, SEALED_TOPIC)[n // rounds]
            clear_pool, committed_pool = pools[2 * n], pools[2 * n + 1]
            if n % 2 == 0:
                clear_time = await ingest(clear_pool, topic, False)
                committed_time = await ingest(committed_pool, topic, True)
            else:
                committed_time = await ingest(committed_pool, topic, True)
                clear_time = await ingest(clear_pool, topic, False)
            runs[topic].append((clear_time, committed_time))

        def median_pair(topic: str) -> tuple[float, float, float]:
            """(clear s, committed s, clear/committed) of the median pair by ratio."""
            ordered = sorted(runs[topic], key=lambda r: r[0] / r[1])
            clear_time, committed_time = ordered[len(ordered) // 2]
            return clear_time, committed_time, clear_time / committed_time

        clear_seconds, ingest_seconds, _ = median_pair(TOPIC)
        mixed_clear, mixed_committed, mixed_ratio = median_pair(MIXED_TOPIC)
        sealed_clear, sealed_committed, sealed_ratio = median_pair(SEALED_TOPIC)

        key = Ed25519PrivateKey.generate()
        env = AuditEnvironment(CheckpointSigner(key), SystemClock())

        async def sign() -> float:
            started = time.perf_counter()
            async with pool.acquire() as conn, conn.transaction():
                await sign_checkpoint(SignCheckpoint(), AuditUnitOfWork(conn), env)
            return time.perf_counter() - started

        first_checkpoint_seconds = await sign()
        result = None
        started = time.perf_counter()
        result = await verify_trail(pool, key.public_key())
        verify_seconds = time.perf_counter() - started
        assert result.ok, result.to_json()
        assert result.entries == N

        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT prev_hash, entry, hash, partition FROM audit_entries ORDER BY topic, partition, seq"
            )
        pairs = [(bytes(r["prev_hash"]), bytes(r["entry"])) for r in rows]
        started = time.perf_counter()
        for prev, entry in pairs:
            hashlib.sha256(prev + entry).digest()
        sha_seconds = time.perf_counter() - started
        mean_entry = sum(len(e) for _, e in pairs) / len(pairs)

        # Consistency proofs between a checkpoint at half the chain and one at its end, checked by a
        # monitor: each check is two signature verifications and O(log n) hashes per chain.
        leaves = [leaf_hash(bytes(r["hash"])) for r in rows if r["partition"] == 0]
        half = len(leaves) // 2
        proof = consistency_proof(leaves, half)
        old_root, new_root = root_of(leaves[:half]), root_of(leaves)
        body = b"x" * 400
        signature = key.sign(body)
        checks = 2000
        started = time.perf_counter()
        for _ in range(checks):
            assert verify_consistency(half, len(leaves), old_root, new_root, proof)
            key.public_key().verify(signature, body)
            key.public_key().verify(signature, body)
        consistency_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(checks):
            key.public_key().verify(signature, body)
        ed25519_seconds = time.perf_counter() - started
    finally:
        for trail_pool in pools:
            await trail_pool.close()
        for url in urls:
            await drop_database(database_server_url, url)

    plain_rate, ingest_rate, clear_rate = N / plain_seconds, N / ingest_seconds, N / clear_seconds
    verify_rate, sha_rate = N / verify_seconds, N / sha_seconds
    checkpoint_rate = N / first_checkpoint_seconds
    consistency_rate, ed25519_rate = checks / consistency_seconds, checks / ed25519_seconds
    print(
        f"\naudit bench: {N} records on 3 partitions (half ContactAttempted, half CaseOpened with the "
        f"debtor's personal data), mean entry {mean_entry:.0f} bytes"
    )
    print(f"  plain aiokafka consume : {plain_rate:10.0f} records/s")
    print(
        f"  trail ingest, personal data committed and its openings encrypted per case "
        "(hash+COPY+offset, one txn per partition batch): "
        f"{ingest_rate:10.0f} entries/s  = {ingest_rate / plain_rate:.2f} x plain consume"
    )
    print(
        f"  the same ingest, personal data in the clear: {clear_rate:10.0f} entries/s  "
        f"(committed = {ingest_rate / clear_rate:.2f} x clear)"
    )
    print(f"  plain SHA-256 loop     : {sha_rate:10.0f} hashes/s")
    print(
        f"  /audit/verify (DB read, rehash, re-derive columns, Merkle): {verify_rate:10.0f} entries/s"
        f"  = {verify_rate / sha_rate:.3f} x plain SHA-256"
    )
    print(
        f"  first checkpoint over {N} entries: {first_checkpoint_seconds * 1000:.0f} ms "
        f"({checkpoint_rate:,.0f} entries/s = {checkpoint_rate / sha_rate:.3f} x plain SHA-256)"
    )
    print(
        f"  consistency-proof checks ({half} -> {len(leaves)} entries, 2 signatures each): "
        f"{consistency_rate:,.0f}/s = {consistency_rate / ed25519_rate:.2f} x one Ed25519 verification"
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
        "audit ingest with commitments and encryption",
        f"{ingest_rate:,.0f} entries/s",
        goal=">= 0.9x",
        anchor=f"the same ingest in the clear {clear_rate:,.0f}/s",
        ratio=ingest_rate / clear_rate,
        met=ingest_rate / clear_rate >= 0.9,
    )
    record(
        "audit ingest with commitments and encryption, 1 in 10 records with a debtor's data",
        f"{N / mixed_committed:,.0f} entries/s",
        goal=">= 0.9x",
        anchor=f"the same ingest in the clear {N / mixed_clear:,.0f}/s",
        ratio=mixed_ratio,
        met=mixed_ratio >= 0.9,
    )
    record(
        "audit ingest with commitments and encryption, records sealed as the services publish them",
        f"{N / sealed_committed:,.0f} entries/s",
        goal=">= 0.9x",
        anchor=f"the same ingest without commitments {N / sealed_clear:,.0f}/s",
        ratio=sealed_ratio,
        met=sealed_ratio >= 0.9,
    )
    record(
        "verification",
        f"{verify_rate:,.0f} entries/s",
        goal=">= 0.3x",
        anchor=f"plain SHA-256 loop {sha_rate:,.0f}/s",
        ratio=verify_rate / sha_rate,
        met=verify_rate / sha_rate >= 0.3,
    )
    record(
        "checkpoint (first, whole trail)",
        f"{first_checkpoint_seconds * 1000:,.0f} ms for {N} entries",
        goal="report",
        anchor=f"plain SHA-256 loop {sha_rate:,.0f}/s",
        ratio=checkpoint_rate / sha_rate,
        met=None,
    )
    record(
        "consistency-proof checks",
        f"{consistency_rate:,.0f}/s",
        goal="report",
        anchor=f"one Ed25519 verification {ed25519_rate:,.0f}/s",
        ratio=consistency_rate / ed25519_rate,
        met=None,
    )
