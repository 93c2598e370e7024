"""One case service per test module: its own database and topic prefix on the real stack, driven
through its HTTP app (httpx + LifespanManager) with a manual clock the tests move."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from case_service.main import MIGRATIONS, CaseServiceSettings, create_app
from dcp_devstack.testing import eventually as eventually  # re-exported: the tests import it from here
from dcp_devstack.testing import service_under_test
from dcp_devstack.testing import token as bearer
from dcp_events import encode_event
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import new_event
from dcp_platform.auth import Role
from dcp_platform.clock import ManualClock

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


SUPERVISOR = bearer(Role.SUPERVISOR, "sup-1")


@dataclass
class CaseHarness:
    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    prefix: str
    bootstrap: str
    producer: AIOKafkaProducer
    database_url: str
    data_keys_url: str | None = None

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
    async with case_service(database_server_url, kafka_bootstrap, sealed=True) as running:
        yield running


@contextlib.asynccontextmanager
async def case_service(
    database_server_url: str, kafka_bootstrap: str, *, sealed: bool = False, **settings_given: Any
) -> AsyncIterator[CaseHarness]:
    """A case service of its own (database, topic prefix) with these settings besides the manual clock."""
    settings = functools.partial(
        CaseServiceSettings, clock_mode="manual", clock_fixed_at=START, log_level="WARNING", **settings_given
    )
    async with service_under_test(
        create_app,
        settings,
        MIGRATIONS,
        database_server_url=database_server_url,
        kafka_bootstrap=kafka_bootstrap,
        base_url="http://case-service",
        database_prefix="t_case",
        sealed=sealed,
    ) as running:
        app = running.app
        yield CaseHarness(
            app,
            running.client,
            app.state.clock,
            running.topic_prefix,
            kafka_bootstrap,
            running.producer,
            running.database_url,
            running.data_keys_url,
        )


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
