"""One case service per test module: its own database and topic prefix on the real stack, driven
through its HTTP app (httpx + LifespanManager) with a manual clock the tests move."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from case_service.main import MIGRATIONS, CaseServiceSettings, create_app
from dcp_devstack.kafka import create_topics_async
from dcp_devstack.postgres import database_url_for
from dcp_devstack.stack import catalogue_topics
from dcp_events import encode_event
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import new_event
from dcp_platform import migrations
from dcp_platform.auth import Role
from dcp_platform.clock import ManualClock
from dcp_platform.settings import DEV_HS256_SECRET
from dcp_platform.tokens import issue_token

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def bearer(
    role: Role, subject: str = "sup-1", *, team: str | None = None, agency_id: str | None = None
) -> dict[str, str]:
    token = issue_token(
        secret=DEV_HS256_SECRET,
        role=role,
        subject=subject,
        issuer="dcp",
        audience="dcp-api",
        team=team,
        agency_id=agency_id,
    )
    return {"Authorization": f"Bearer {token}"}


SUPERVISOR = bearer(Role.SUPERVISOR)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy (or fail at the deadline)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met before the deadline (last: {last!r})")


@dataclass
class CaseHarness:
    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    prefix: str
    bootstrap: str
    producer: AIOKafkaProducer
    database_url: str

    async def publish(self, payload: EventPayload, subject: str, *, actor: str = "core-banking") -> str:
        event = new_event(
            payload,
            subject=subject,
            source="/tests",
            actor=actor,
            actorrole="integration",
            correlationid=str(uuid.uuid4()),
            time=self.clock.now(),
        )
        await self.producer.send_and_wait(
            self.prefix + type(payload).topic, encode_event(event), key=subject.encode()
        )
        return str(event.id)

    def move_clock(self, to: datetime) -> None:
        self.clock.set(to)
        self.app.state.runtime.timers.wake()

    async def case(self, case_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/cases/{case_id}", headers=SUPERVISOR)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture(scope="module")
async def harness(database_server_url: str, kafka_bootstrap: str) -> AsyncIterator[CaseHarness]:
    name = f"t_case_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url_for(database_server_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await create_topics_async(kafka_bootstrap, [prefix + t for t in catalogue_topics()])
    url = database_url_for(database_server_url, name)
    settings = CaseServiceSettings(
        service_database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=prefix,
        clock_mode="manual",
        clock_fixed_at=START,
        log_level="WARNING",
    )
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS, settings.sqlalchemy_url)
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://case-service", timeout=30
            ) as client,
        ):
            yield CaseHarness(app, client, app.state.clock, prefix, kafka_bootstrap, producer, url)
    finally:
        await producer.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def placement_body(account_reference: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "placement_id": f"plc-{account_reference}",
        "debtor": {
            "debtor_id": f"dbt-{account_reference}",
            "full_name": "Ada Lovelace",
            "phones": [
                {"number": "+447700900123", "kind": "mobile", "consent_to_call": True, "consent_to_sms": True}
            ],
            "language": "en-GB",
            "time_zone": "Europe/London",
            "time_zone_source": "address",
        },
        "account": {
            "creditor_id": "acme-bank",
            "account_reference": account_reference,
            "product": "credit_card",
        },
        "amounts": {
            "principal": {"amount_minor": 100000, "currency": "GBP"},
            "interest": {"amount_minor": 5000, "currency": "GBP"},
            "fees": {"amount_minor": 0, "currency": "GBP"},
            "total_balance": {"amount_minor": 105000, "currency": "GBP"},
        },
        "days_past_due": 20,
        "jurisdiction": "GB",
        "risk_score": 300,
    }
    body.update(overrides)
    return body
