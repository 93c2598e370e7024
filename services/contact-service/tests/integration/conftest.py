"""A contact service per test module: its own database and topic prefix on the real stack, its real
HTTP app (httpx over ASGI, lifespan running the relay and consumers), a manual clock, and helpers
to publish case events and read the contact events it publishes."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contact_service.adapters.unit_of_work_contract import case_opened
from contact_service.main import MIGRATIONS, ContactServiceSettings, create_app
from dcp_devstack import testing
from dcp_devstack.testing import eventually
from dcp_events import decode_event, encode_event
from dcp_events.catalogue import (
    Assignee,
    CaseAssigned,
    EventPayload,
    new_event,
)
from dcp_events.catalogue.enums import AssigneeKind
from dcp_events.envelope import CloudEvent
from dcp_platform.auth import Role
from dcp_platform.clock import ManualClock

START = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York, 17:00 in London, 00:00 in Shanghai


def token(role: Role = Role.COLLECTOR, subject: str = "col-1", **claims: Any) -> dict[str, str]:
    """`dcp_devstack.testing.token`, by default for col-1: the collector `open_case` assigns cases to."""
    return testing.token(role, subject, **claims)


@dataclass
class ContactService:
    client: httpx.AsyncClient
    clock: ManualClock
    prefix: str
    bootstrap: str
    database_url: str
    producer: AIOKafkaProducer

    def next_local(self, zone: str, hour: int, minute: int = 0) -> datetime:
        """Move the clock forward to the next `hour:minute` wall time in `zone` (tests share one clock)."""
        now = self.clock.now()
        local = now.astimezone(ZoneInfo(zone))
        target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        while target.astimezone(UTC) <= now:
            target = (target + timedelta(days=1)).replace(hour=hour, minute=minute)
        self.clock.set(target.astimezone(UTC))
        return self.clock.now()

    async def publish(self, topic: str, case_id: str, payload: EventPayload, **attrs: Any) -> CloudEvent:
        event = new_event(
            payload,
            subject=case_id,
            source=attrs.pop("source", "/case-service"),
            actor=attrs.pop("actor", "case-service"),
            actorrole=attrs.pop("actorrole", "service"),
            correlationid=str(uuid.uuid4()),
            time=attrs.pop("time", self.clock.now()),
            **attrs,
        )
        await self.producer.send_and_wait(self.prefix + topic, encode_event(event), key=case_id.encode())
        return event

    async def open_case(
        self,
        jurisdiction: str = "US",
        *,
        collector: str = "col-1",
        balance_minor: int = 250_000,
        risk_score: int | None = 400,
        debtor_id: str | None = None,
        case_id: str | None = None,
        agency: str | None = None,
    ) -> str:
        """Publish CaseOpened + CaseAssigned (to `collector`, or to `agency`) and wait until the service
        knows the case."""
        case_id = case_id or f"case-{uuid.uuid4().hex[:10]}"
        opened = case_opened(
            case_id, jurisdiction, debtor_id=debtor_id, balance_minor=balance_minor, risk_score=risk_score
        )
        await self.publish("collections.cases", case_id, opened, jurisdiction=jurisdiction)
        assignee = (
            Assignee(kind=AssigneeKind.AGENCY, id=agency)
            if agency is not None
            else Assignee(kind=AssigneeKind.COLLECTOR, id=collector)
        )
        assigned = CaseAssigned(assignee=assignee, reason="test")
        await self.publish("collections.cases", case_id, assigned, jurisdiction=jurisdiction)
        who = (
            token(subject=collector) if agency is None else token(subject=f"agent-{agency}", agency_id=agency)
        )

        async def assigned_in_service() -> bool:
            r = await self.client.get(f"/cases/{case_id}/contact-options", headers=who)
            return r.status_code == 200

        await eventually(assigned_in_service)
        return case_id

    async def contact_events(
        self,
        case_id: str,
        *,
        expect: int,
        timeout: float = 20.0,
        topic: str = "collections.contacts",
        until: str | None = None,
    ) -> list[CloudEvent]:
        """The events about `case_id` on `topic` (at least `expect`, and up to one of type `until`:
        the records may come in more than one batch)."""
        consumer = AIOKafkaConsumer(
            self.prefix + topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        found: list[CloudEvent] = []
        deadline = time.monotonic() + timeout
        try:
            while (
                len(found) < expect or (until is not None and all(e.type != until for e in found))
            ) and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    for r in records:
                        if r.key == case_id.encode() and r.value is not None:
                            found.append(decode_event(r.value))
        finally:
            await consumer.stop()
        return found


@pytest.fixture(scope="module")
async def service(database_server_url: str, kafka_bootstrap: str) -> AsyncIterator[ContactService]:
    """Module-scoped equivalents of `fresh_database` and `topic_prefix` (those are per test)."""
    settings = functools.partial(ContactServiceSettings, clock_mode="manual", clock_fixed_at=START)
    async with testing.service_under_test(
        create_app,
        settings,
        MIGRATIONS,
        database_server_url=database_server_url,
        kafka_bootstrap=kafka_bootstrap,
        base_url="http://contact",
    ) as running:
        yield ContactService(
            running.client,
            running.app.state.clock,
            running.topic_prefix,
            kafka_bootstrap,
            running.database_url,
            running.producer,
        )
