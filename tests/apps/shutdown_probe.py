"""A small event-sourced service for the graceful-shutdown test: a slow command and a slow consumer.

Run as `python -m uvicorn --factory shutdown_probe:create_app` with PYTHONPATH=tests/apps and
PROBE_TOPIC / SERVICE_DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS in the environment.
"""

from __future__ import annotations

import asyncio
import os

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.eventsourcing.consumer import Delivery
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.eventsourcing.store import NewEvent
from dcp_platform.service import event_sourced_app
from dcp_platform.settings import ServiceSettings

router = APIRouter()


@router.post("/slow-commands/{case_id}")
async def slow_command(case_id: str, request: Request) -> dict[str, int]:
    await asyncio.sleep(1.5)  # a command still running when SIGTERM arrives
    store = request.app.state.runtime.store
    event = NewEvent(
        event_type="collections.case.balance_changed.v1",
        topic=os.environ["PROBE_TOPIC"] + ".out",
        subject=case_id,
        data={"n": 1},
        envelope={
            "source": "/probe",
            "actor": "probe",
            "actorrole": "service",
            "correlationid": "c",
            "time": "2026-11-29T08:00:00.000000Z",
        },
    )
    recorded = await store.append(case_id, 0, [event])
    return {"position": recorded[0].position}


async def apply_slowly(conn: AsyncConnection, delivery: Delivery) -> None:
    await asyncio.sleep(0.01)
    await conn.execute(text("INSERT INTO probe_effects VALUES (:id)"), {"id": delivery.event_id})


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="probe-service", http_port=0)
    return event_sourced_app(
        settings,
        description="graceful shutdown probe",
        routers=[router],
        subscriptions=[Subscription("probe", [os.environ["PROBE_TOPIC"]], apply_slowly)],
    )
