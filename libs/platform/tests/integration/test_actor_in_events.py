"""The actor, correlation id and trace context of a request travel into the events it causes, up to Kafka."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request

from dcp_events import decode_event
from dcp_events.catalogue.cases import CaseHoldPlaced
from dcp_platform.app import create_service_app
from dcp_platform.auth import CurrentPrincipal, Role, require_roles
from dcp_platform.clock import FixedClock
from dcp_platform.eventsourcing.events import event_for
from dcp_platform.eventsourcing.relay import OutboxRelay
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.settings import DEV_HS256_SECRET, ServiceSettings
from dcp_platform.tokens import issue_token

from .conftest import read_topic

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_supervisors_hold_carries_actor_correlation_and_trace(
    database: Any, kafka_bootstrap: str, new_topic: Any
) -> None:
    topic = await new_topic("holds")
    store = EventStore(database.engine)
    clock = FixedClock(NOW)
    router = APIRouter()

    @router.post("/cases/{case_id}/holds", dependencies=[Depends(require_roles(Role.SUPERVISOR))])
    async def place_hold(case_id: str, principal: CurrentPrincipal, request: Request) -> dict[str, str]:
        event = event_for(
            CaseHoldPlaced(hold_id="h-1", hold_type="dispute", reason="debtor disputes the amount"),
            subject=case_id,
            source="/case-service",
            clock=clock,
            jurisdiction="US",
        )
        event = dataclasses.replace(event, topic=topic)
        await store.append(case_id, 0, [event])
        return {"by": principal.subject}

    settings = ServiceSettings(service_name="case-service", database_url=database.url)
    app = create_service_app(settings, routers=[router], include_default_readiness_checks=False)
    token = issue_token(
        secret=DEV_HS256_SECRET,
        role=Role.SUPERVISOR,
        subject="sup-42",
        issuer=settings.auth_jwt_issuer,
        audience=settings.auth_jwt_audience,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://case") as client:
        response = await client.post(
            "/cases/case-9/holds",
            headers={
                "Authorization": f"Bearer {token}",
                "X-Correlation-ID": "corr-77",
                "traceparent": TRACEPARENT,
            },
        )
    assert response.status_code == 200, response.text

    relay = OutboxRelay(database.engine, database.url, kafka_bootstrap)
    assert await relay.publish_pending() == 1
    await relay.stop()
    [(key, value, _)] = await read_topic(kafka_bootstrap, topic, expect=1)
    published = decode_event(value)
    assert key == b"case-9"
    assert (published.actor, published.actorrole) == ("sup-42", "supervisor")
    assert published.correlationid == "corr-77"
    assert published.traceparent is not None
    assert published.traceparent.split("-")[1] == TRACEPARENT.split("-")[1]  # same trace, new span
    assert published.time == NOW
    assert published.sequence == 1
    assert published.type == "collections.case.hold_placed.v1"
    assert published.data["hold_type"] == "dispute"


async def test_with_tracing_on_the_request_is_a_span_and_its_events_carry_that_span(
    database: Any, kafka_bootstrap: str
) -> None:
    from dcp_platform import tracing

    store = EventStore(database.engine)
    clock = FixedClock(NOW)
    router = APIRouter()

    @router.post("/cases/{case_id}/holds", dependencies=[Depends(require_roles(Role.SUPERVISOR))])
    async def place_hold(case_id: str) -> dict[str, str]:
        hold = CaseHoldPlaced(hold_id="h-2", hold_type="complaint", reason="open complaint")
        await store.append(
            case_id, 0, [event_for(hold, subject=case_id, source="/case-service", clock=clock)]
        )
        return {}

    settings = ServiceSettings(
        service_name="case-service", database_url=database.url, OTEL_TRACES_EXPORTER="memory"
    )
    app = create_service_app(settings, routers=[router], include_default_readiness_checks=False)
    token = issue_token(
        secret=DEV_HS256_SECRET, role=Role.SUPERVISOR, subject="sup-1", issuer="dcp", audience="dcp-api"
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://case"
        ) as client:
            response = await client.post(
                "/cases/case-t/holds",
                headers={"Authorization": f"Bearer {token}", "traceparent": TRACEPARENT},
            )
        assert response.status_code == 200
        [span] = [s for s in tracing.recorded_spans() if s.name == "POST /cases/case-t/holds"]
    finally:
        tracing.shutdown_tracing()
    trace_id, parent_span = TRACEPARENT.split("-")[1:3]
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == parent_span
    [appended] = await store.load("case-t")
    assert appended.metadata["traceparent"] == f"00-{trace_id}-{format(span.context.span_id, '016x')}-01"
