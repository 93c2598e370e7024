"""The local stack works: Kafka takes idempotent produce + group consume, every service database accepts
connections, and the status reports both servers running."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from dcp_devstack import SERVICE_DATABASES, StackEndpoints, create_topics, database_url_for, stack_status

pytestmark = pytest.mark.integration


async def test_kafka_idempotent_produce_and_group_consume(kafka_bootstrap: str) -> None:
    topic = f"devstack.selftest.{uuid.uuid4().hex[:12]}"
    assert create_topics(kafka_bootstrap, [topic], partitions=3) == [topic]
    assert create_topics(kafka_bootstrap, [topic], partitions=3) == []  # idempotent

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(10)}
        for key, value in sent.items():
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"devstack-selftest-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: dict[bytes, bytes] = {}
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        assert record.key is not None and record.value is not None
                        received[record.key] = record.value
        await consumer.commit()
        assert len(consumer.assignment()) == 3
    finally:
        await consumer.stop()
    assert received == sent


@pytest.mark.parametrize("dbname", SERVICE_DATABASES)
async def test_service_database_accepts_connections(database_server_url: str, dbname: str) -> None:
    conn = await asyncpg.connect(database_url_for(database_server_url, dbname), timeout=10)
    try:
        assert await conn.fetchval("SELECT current_database()") == dbname
    finally:
        await conn.close()


async def test_postgres_settings(database_server_url: str, stack: StackEndpoints) -> None:
    conn = await asyncpg.connect(database_server_url, timeout=10)
    try:
        if stack_status()["postgres"]["managed"]:  # the embedded server is configured by dcp_devstack
            assert int(await conn.fetchval("SHOW max_connections")) == 300
        assert await conn.fetchval("SHOW fsync") == "on"
    finally:
        await conn.close()


def test_status_shows_both_running(stack: StackEndpoints) -> None:
    info = stack_status()
    assert info["kafka"]["running"] is True, info
    assert info["postgres"]["running"] is True, info
    assert info["kafka"]["bootstrap"] == stack.kafka_bootstrap
    assert info["postgres"]["database_url"] == stack.database_url


def test_database_url_for_keeps_server_and_query() -> None:
    assert (
        database_url_for("postgresql://postgres@127.0.0.1:15432/postgres?sslmode=disable", "case_service")
        == "postgresql://postgres@127.0.0.1:15432/case_service?sslmode=disable"
    )


@pytest.mark.integration
async def test_every_catalogue_topic_and_its_dead_letter_topic_exists(kafka_bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    from dcp_devstack.stack import catalogue_topics
    from dcp_events import TOPICS

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    assert {"collections.cases", "integration.payments", "collections.payments.dlq"} <= set(
        catalogue_topics()
    )
    assert set(catalogue_topics()) == {*TOPICS, *(f"{t}.dlq" for t in TOPICS)}
    assert set(catalogue_topics()) <= existing


async def test_on_a_cluster_every_topic_has_three_copies_and_needs_two_in_sync(kafka_bootstrap: str) -> None:
    """`dcp-stack up --brokers 3`: the catalogue topics are replicated three times, and a write with
    acks=all needs two copies in sync (one broker may fail without losing an acknowledged event)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from dcp_devstack.config import StackConfig

    if StackConfig.from_env().kafka_brokers < 3:
        pytest.skip("the single-broker stack (make test-cluster runs this on three brokers)")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert len((await admin.describe_cluster())["brokers"]) == 3
        [described] = await admin.describe_topics(["collections.cases"])
        assert {len(p["replicas"]) for p in described["partitions"]} == {3}
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "collections.cases", {"min.insync.replicas": None})]
        )
    finally:
        await admin.close()
    [(_, _, _, _, configs)] = response.resources
    assert {c[0]: c[1] for c in configs}["min.insync.replicas"] == "2"
