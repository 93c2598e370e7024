"""One audit service per test module: own database and topic prefix, real HTTP app, Kafka, PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from audit_service.application.runtime import AuditRuntime
from audit_service.main import MIGRATIONS, create_app
from audit_service.settings import AuditServiceSettings
from dcp_devstack.testing import drop_database as drop_database  # re-exported for test_exactly_once
from dcp_devstack.testing import eventually, running_app, service_under_test, token
from dcp_devstack.testing import new_database as new_database  # re-exported for test_exactly_once
from dcp_events import EventPayload, encode_event, new_event
from dcp_platform import migrations
from dcp_platform.auth import Role
from dcp_platform.signing_keys import private_key_pem

AUDITOR = token(Role.AUDITOR, "aud-1")
ADMIN = token(Role.ADMIN, "adm-1")


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
    app: FastAPI | None = None

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


def commitment_key(key: Ed25519PrivateKey) -> str:
    """The test service's commitment key (base64), derived from its signing key: stable per service."""
    return base64.b64encode(hashlib.sha256(b"commitments" + private_key_pem(key)).digest()).decode()


def audit_settings(
    key: Ed25519PrivateKey, batch_size: int = 200, **overrides: Any
) -> Callable[..., AuditServiceSettings]:
    """The audit service's test settings, still to be given the database, bootstrap and topic prefix."""
    return functools.partial(
        AuditServiceSettings,
        **{
            "audit_signing_key": private_key_pem(key).decode(),
            "audit_commitment_key": commitment_key(key),
            "audit_checkpoint_interval_seconds": 0,
            "audit_ingest_batch_size": batch_size,
            **overrides,
        },
    )


async def ingestor_assigned(app: FastAPI) -> None:
    runtime: AuditRuntime = app.state.audit
    assert runtime.ingestor is not None
    await runtime.ingestor.assigned.wait()


async def start_service(
    bootstrap: str, database_url: str, prefix: str, key: Ed25519PrivateKey, **overrides: Any
) -> tuple[contextlib.AsyncExitStack, httpx.AsyncClient, AuditRuntime, AuditServiceSettings]:
    """An audit service on an existing database, to stop (``__aexit__``) and start again mid-test."""
    settings = audit_settings(key, **overrides)(
        service_database_url=database_url, kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix
    )
    app = create_app(settings)
    manager = contextlib.AsyncExitStack()
    client = await manager.enter_async_context(
        running_app(app, base_url="http://audit", ready=ingestor_assigned)
    )
    return manager, client, app.state.audit, settings


@pytest.fixture(scope="module")
async def audit(kafka_bootstrap: str, database_server_url: str) -> AsyncIterator[AuditUnderTest]:
    key = Ed25519PrivateKey.generate()
    async with service_under_test(
        create_app,
        audit_settings(key),
        MIGRATIONS,
        database_server_url=database_server_url,
        kafka_bootstrap=kafka_bootstrap,
        base_url="http://audit",
        ready=ingestor_assigned,
        database_prefix="t_audit",
        topic_prefix="ta",
    ) as running:
        yield AuditUnderTest(
            running.client,
            running.app.state.audit,
            running.settings,
            running.database_url,
            running.topic_prefix,
            kafka_bootstrap,
            key,
            running.producer,
            app=running.app,
        )
