"""A payment service per test module, on its own database and topic prefix, over the real stack.

`fresh_database` and `topic_prefix` are per test; a service takes seconds to join its consumer
groups, so `dcp_devstack.testing.service_under_test` (the same helpers, on the stack's session fixtures
`database_server_url` and `kafka_bootstrap`) gives each module one instance.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from dcp_devstack.testing import eventually as eventually  # re-exported: the tests import it from here
from dcp_devstack.testing import service_under_test, token
from dcp_events import encode_event
from dcp_events.canonical import decode_event
from dcp_events.catalogue import (
    Account,
    Assignee,
    AssigneeKind,
    CaseAmounts,
    CaseAssigned,
    CaseOpened,
    Debtor,
    EventPayload,
    Money,
    TimeZoneSource,
    new_event,
)
from dcp_events.envelope import CloudEvent
from dcp_platform.auth import Role
from dcp_platform.eventsourcing.runtime import EventSourcingRuntime
from payment_service.adapters import case_facts
from payment_service.main import MIGRATIONS, PaymentServiceSettings, create_app

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


# Cases opened by `Service.open_case` are assigned to collector-1 unless told otherwise.
COLLECTOR = token(Role.COLLECTOR, "collector-1")
OTHER_COLLECTOR = token(Role.COLLECTOR, "collector-2", team="team-2", agency_id="agency-2")
AUDITOR = token(Role.AUDITOR, "auditor-1")
SUPERVISOR = token(Role.SUPERVISOR, "supervisor-1")
ADMIN = token(Role.ADMIN, "admin-1")
INTEGRATION = token(Role.INTEGRATION, "core-banking")


def gbp(minor: int) -> dict[str, Any]:
    return {"amount_minor": minor, "currency": "GBP"}


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    prefix: str
    kafka: str
    producer: AIOKafkaProducer
    # case id -> the assignee id open_case/assign published, which case_known waits for.
    assignees: dict[str, str] = field(default_factory=dict)

    @property
    def runtime(self) -> EventSourcingRuntime:
        runtime: EventSourcingRuntime = self.app.state.runtime
        return runtime

    async def now(self) -> datetime:
        response = await self.client.get("/admin/clock", headers=ADMIN)
        return datetime.fromisoformat(response.json()["now"])

    async def move_clock(self, to: datetime) -> None:
        """Move the service's manual clock (which also wakes its timers)."""
        response = await self.client.put("/admin/clock", json={"now": to.isoformat()}, headers=ADMIN)
        assert response.status_code == 200, response.text

    async def publish(
        self, payload: EventPayload, *, subject: str, source: str = "/case-service"
    ) -> CloudEvent:
        """Publish a catalogue event as its producer would, on this service's prefixed topic."""
        event = new_event(
            payload,
            subject=subject,
            source=source,
            actor="test",
            actorrole="service",
            correlationid=str(uuid.uuid4()),
            time=await self.now(),
        )
        await self.publish_raw(type(payload).topic, subject, encode_event(event))
        return event

    async def publish_raw(self, topic: str, key: str, value: bytes) -> None:
        await self.producer.send_and_wait(self.prefix + topic, value=value, key=key.encode())

    async def open_case(
        self,
        case_id: str,
        *,
        currency: str = "GBP",
        balance: int = 100_000,
        tz: str = "UTC",
        assignee: tuple[AssigneeKind, str] | None = (AssigneeKind.COLLECTOR, "collector-1"),
    ) -> None:
        """Publish the case's CaseOpened and (unless `assignee` is None) its CaseAssigned."""

        def money(minor: int) -> Money:
            return Money(amount_minor=minor, currency=currency)

        await self.publish(
            CaseOpened(
                debtor=Debtor(
                    debtor_id=f"dbt-{case_id}",
                    full_name="Test Debtor",
                    language="en-GB",
                    time_zone=tz,
                    time_zone_source=TimeZoneSource.DECLARED,
                ),
                account=Account(creditor_id="acme", account_reference=f"acc-{case_id}", product="loan"),
                amounts=CaseAmounts(
                    principal=money(balance), interest=money(0), fees=money(0), total_balance=money(balance)
                ),
                days_past_due=40,
                due_since=date(2026, 11, 25),
                jurisdiction="GB",
            ),
            subject=case_id,
        )
        if assignee is not None:
            await self.assign(case_id, *assignee)

    async def assign(self, case_id: str, kind: AssigneeKind, assignee_id: str) -> None:
        """Publish CaseAssigned as case-service would, on the prefixed collections.cases."""
        await self.publish(
            CaseAssigned(assignee=Assignee(kind=kind, id=assignee_id), reason="test", policy="direct"),
            subject=case_id,
        )
        self.assignees[case_id] = assignee_id

    async def case_known(self, case_id: str) -> bool:
        """Whether the service has consumed the case's CaseOpened (and the CaseAssigned published last)."""
        async with self.runtime.engine.connect() as conn:
            if await case_facts.get(conn, case_id) is None:
                return False
            assignment = await case_facts.assignment(conn, case_id)
        expected = self.assignees.get(case_id)
        return expected is None or (assignment is not None and assignment.assignee_id == expected)

    async def read_payment_events(
        self, case_id: str, until: Callable[[list[CloudEvent]], bool], timeout: float = 20.0
    ) -> list[CloudEvent]:
        """The service's events about `case_id` on collections.payments (Kafka), once `until` holds."""
        events = await read_topic(
            self.kafka,
            self.prefix + "collections.payments",
            until=lambda evs: until([e for e in evs if e.subject == case_id]),
            timeout=timeout,
        )
        return [e for e in events if e.subject == case_id]


async def read_topic(
    bootstrap: str, topic: str, *, until: Callable[[list[CloudEvent]], bool], timeout: float = 20.0
) -> list[CloudEvent]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    events: list[CloudEvent] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                events += [decode_event(r.value) for r in records if r.value is not None]
            if until(events):
                return events
    finally:
        await consumer.stop()
    raise AssertionError(f"{topic}: condition not met before the deadline; saw {[e.type for e in events]}")


@pytest.fixture(scope="module")
async def service(database_server_url: str, kafka_bootstrap: str) -> AsyncIterator[Service]:
    settings = functools.partial(
        PaymentServiceSettings,
        database_url=database_server_url,
        clock_mode="manual",
        clock_fixed_at=START,
        promise_grace_days=2,
        installment_grace_days=3,
        plan_missed_installments_to_break=2,
    )

    async def consumers_assigned(app: FastAPI) -> None:
        runtime: EventSourcingRuntime = app.state.runtime
        for consumer in runtime.consumers:
            await consumer.assigned.wait()

    async with service_under_test(
        create_app,
        settings,
        MIGRATIONS,
        database_server_url=database_server_url,
        kafka_bootstrap=kafka_bootstrap,
        base_url="http://payment-service",
        ready=consumers_assigned,
        database_prefix="t_pay",
    ) as running:
        yield Service(running.app, running.client, running.topic_prefix, kafka_bootstrap, running.producer)
