"""Correlation id and trace context: taken from the caller or generated, echoed, and handed to events."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from fastapi import APIRouter

from dcp_platform.context import TraceContext, bind_context, current_actor, set_service_name

router = APIRouter()


@router.get("/whoami")
async def whoami() -> dict[str, str]:
    return current_actor().envelope_extensions()


async def test_correlation_id_is_echoed(build_client: Callable[..., httpx.AsyncClient]) -> None:
    client = build_client(router)
    response = await client.get("/whoami", headers={"X-Correlation-ID": "abc-123"})
    assert response.headers["x-correlation-id"] == "abc-123"
    assert response.json()["correlationid"] == "abc-123"
    assert response.json()["actor"] == "unit-service"
    assert response.json()["actorrole"] == "service"


async def test_correlation_id_is_generated_when_missing_or_unsafe(
    build_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = build_client(router)
    generated = (await client.get("/whoami")).headers["x-correlation-id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", generated)
    unsafe = await client.get("/whoami", headers={"X-Correlation-ID": 'x" injected=1 ' + "y" * 200})
    assert re.fullmatch(r"[0-9a-f-]{36}", unsafe.headers["x-correlation-id"])


async def test_traceparent_is_continued_as_a_child_span(
    build_client: Callable[..., httpx.AsyncClient],
) -> None:
    client = build_client(router)
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    body = (await client.get("/whoami", headers={"traceparent": incoming})).json()
    version, trace_id, span_id, flags = body["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    assert span_id != "00f067aa0ba902b7"
    assert body["causationid"]  # the request is the command that causes the events


def test_invalid_traceparent_starts_a_new_trace() -> None:
    trace = TraceContext.continue_from("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", trace.traceparent)
    assert trace.trace_id != "0" * 32


def test_consumers_bind_the_incoming_event_as_cause() -> None:
    set_service_name("audit-service")
    with bind_context(
        correlation_id="corr-7",
        causation_id="event-42",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ):
        actor = current_actor()
    assert (actor.actor, actor.actorrole, actor.correlationid, actor.causationid) == (
        "audit-service",
        "service",
        "corr-7",
        "event-42",
    )
    assert actor.traceparent.split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_outside_any_context_the_service_is_the_actor_with_fresh_ids() -> None:
    set_service_name("payment-service")
    first, second = current_actor(), current_actor()
    assert first.actor == "payment-service"
    assert first.causationid is None
    assert "causationid" not in first.envelope_extensions()
    assert first.correlationid != second.correlationid
