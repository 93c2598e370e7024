"""One audit service per test module: own database and topic prefix, real HTTP app, Kafka, PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_service.adapters.signing_key import private_key_pem
from audit_service.application.runtime import AuditRuntime
from audit_service.main import MIGRATIONS, create_app
from audit_service.settings import AuditServiceSettings
from dcp_devstack.kafka import create_topics_async
from dcp_devstack.postgres import database_url_for
from dcp_devstack.stack import catalogue_topics
from dcp_events import EventPayload, encode_event, new_event
from dcp_platform import migrations
from dcp_platform.auth import Role
from dcp_platform.settings import DEV_HS256_SECRET
from dcp_platform.tokens import issue_token


def token(role: Role, subject: str = "someone") -> dict[str, str]:
    jwt = issue_token(secret=DEV_HS256_SECRET, role=role, subject=subject, issuer="dcp", audience="dcp-api")
    return {"Authorization": f"Bearer {jwt}"}


AUDITOR = token(Role.AUDITOR, "aud-1")
ADMIN = token(Role.ADMIN, "adm-1")


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout}s")


async def new_database(server_url: str) -> str:
    name = f"t_audit_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return database_url_for(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


async def migrate(url: str) -> None:
    await asyncio.to_thread(
        migrations.upgrade, MIGRATIONS, AuditServiceSettings(service_database_url=url).sqlalchemy_url
    )


@dataclass
class AuditUnderTest:
    """A running audit service and the means to feed and inspect it."""

    client: httpx.AsyncClient
    runtime: AuditRuntime
    settings: AuditServiceSettings
    database_url: str
    prefix: str
    bootstrap: str
    signing_key: Ed25519PrivateKey
    producer: AIOKafkaProducer
    published: list[tuple[str, int, int]] = field(default_factory=list)

    async def publish_raw(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Iterable[tuple[str, bytes]] = (),
    ) -> tuple[int, int]:
        meta = await self.producer.send_and_wait(
            self.prefix + topic, value=value, key=key, headers=list(headers)
        )
        self.published.append((topic, meta.partition, meta.offset))
        return meta.partition, meta.offset

    async def publish(
        self,
        payload: EventPayload,
        case_id: str,
        at: datetime,
        *,
        actor: str = "usr-alice",
        role: str = "collector",
        jurisdiction: str | None = None,
    ) -> str:
        event = new_event(
            payload,
            subject=case_id,
            source="/test",
            actor=actor,
            actorrole=role,
            correlationid=str(uuid.uuid4()),
            time=at,
            jurisdiction=jurisdiction,
        )
        await self.publish_raw(payload.topic, encode_event(event), key=case_id.encode())
        return event.id

    async def entry_count(self) -> int:
        async with self.runtime.pool.acquire() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM audit_entries"))

    async def wait_for_entries(self, n: int, timeout: float = 30.0) -> None:
        async def enough() -> bool:
            return await self.entry_count() >= n

        await eventually(enough, timeout, f"{n} entries in the trail")

    async def superuser(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.database_url)

    async def get(self, path: str, headers: dict[str, str] = AUDITOR, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=headers, params=params)


async def start_service(
    bootstrap: str, database_url: str, prefix: str, key: Ed25519PrivateKey, **overrides: Any
) -> tuple[Any, httpx.AsyncClient, AuditRuntime, AuditServiceSettings]:
    settings = AuditServiceSettings(
        service_database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_prefix=prefix,
        audit_signing_key=private_key_pem(key).decode(),
        audit_checkpoint_interval_seconds=0,
        audit_ingest_batch_size=overrides.pop("batch_size", 200),
        **overrides,
    )
    app = create_app(settings)
    manager = LifespanManager(app, startup_timeout=60, shutdown_timeout=60)
    await manager.__aenter__()
    runtime: AuditRuntime = app.state.audit
    assert runtime.ingestor is not None
    await asyncio.wait_for(runtime.ingestor.assigned.wait(), 60)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url="http://audit")
    return manager, client, runtime, settings


@pytest.fixture(scope="module")
async def audit(kafka_bootstrap: str, database_server_url: str) -> AsyncIterator[AuditUnderTest]:
    prefix = f"ta{uuid.uuid4().hex[:8]}."
    await create_topics_async(kafka_bootstrap, [prefix + t for t in catalogue_topics()])
    database_url = await new_database(database_server_url)
    await migrate(database_url)
    key = Ed25519PrivateKey.generate()
    manager, client, runtime, settings = await start_service(kafka_bootstrap, database_url, prefix, key)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        yield AuditUnderTest(client, runtime, settings, database_url, prefix, kafka_bootstrap, key, producer)
    finally:
        await producer.stop()
        await client.aclose()
        await manager.__aexit__(None, None, None)
        await drop_database(database_server_url, database_url)
