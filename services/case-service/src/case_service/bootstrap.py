"""The one place that wires the case service: runtime, application service, handlers, subscriptions,
timers and routers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from case_service.adapters import timers as case_timers
from case_service.adapters.policy_file import load_policy
from case_service.adapters.timers import AGEING_TIMER
from case_service.api import cases, imports, kpis, staff
from case_service.application.cases import HOLD_EXPIRY_TIMER, CaseService
from case_service.application.handlers import InboundHandlers
from case_service.settings import CaseServiceSettings
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.service import build_runtime, event_sourced_app

ROUTERS = (cases.router, imports.router, kpis.router, staff.router)


def subscriptions(handlers: InboundHandlers) -> list[Subscription]:
    return [
        Subscription("case-service.placements", ["integration.placements"], handlers.on_placement),
        Subscription("case-service.payments", ["collections.payments"], handlers.on_payment),
        Subscription("case-service.contacts", ["collections.contacts"], handlers.on_contact),
    ]


def bootstrap(settings: CaseServiceSettings) -> FastAPI:
    runtime = build_runtime(settings)
    service = CaseService(
        runtime.engine, runtime.store, runtime.clock, load_policy(settings.case_policy_file)
    )
    handlers = InboundHandlers(service)
    for subscription in subscriptions(handlers):
        runtime.subscribe(subscription)
    runtime.on_timer(AGEING_TIMER, handlers.on_ageing)
    runtime.on_timer(HOLD_EXPIRY_TIMER, handlers.on_hold_expiry)
    app = event_sourced_app(
        settings,
        runtime=runtime,
        description="The case service: placement, strategy, assignment, stages, holds, balance.",
        routers=ROUTERS,
    )
    app.state.case_service = service
    app.state.import_tasks = set()
    app.state.lifespan_hooks.append(_case_service_lifespan)
    return app


@asynccontextmanager
async def _case_service_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Make sure tomorrow's ageing run is scheduled; on shutdown, stop imports still running
    (their committed chunks stay; importing the file again adds the rest)."""
    service: CaseService = app.state.case_service
    async with service.engine.begin() as conn:
        await case_timers.ensure_ageing_timer(conn, service.clock.now())
    app.state.runtime.timers.wake()
    try:
        yield
    finally:
        tasks: set[asyncio.Task[None]] = app.state.import_tasks
        for task in list(tasks):
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
