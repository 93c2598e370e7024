"""Wiring of the case service: its settings, the app factory (`case_service.main:create_app`) and its CLI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI
from sqlalchemy import text

from case_service.adapters.policy_file import load_policy
from case_service.api import cases, errors, imports, kpis, staff
from case_service.application.cases import AGEING_TIMER, HOLD_EXPIRY_TIMER, CaseService, next_midnight
from case_service.application.handlers import InboundHandlers
from dcp_platform.eventsourcing.runtime import EventSourcingRuntime, Subscription
from dcp_platform.service import event_sourced_app, service_cli
from dcp_platform.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class CaseServiceSettings(ServiceSettings):
    service_name: str = "case-service"
    http_port: int = 8001
    # The collection policy YAML (buckets, stages, segmentation, strategies); default: the packaged one.
    case_policy_file: str | None = None


_ENSURE_AGEING_TIMER = text(
    """
    INSERT INTO timers (kind, key, due_at, payload)
    SELECT CAST(:kind AS varchar), CAST(:key AS varchar), CAST(:due_at AS timestamptz), '{}'::jsonb
    WHERE NOT EXISTS (SELECT 1 FROM timers WHERE kind = CAST(:kind AS varchar) AND fired_at IS NULL)
    ON CONFLICT (kind, key) DO NOTHING
    """
)


def create_app(settings: CaseServiceSettings | None = None) -> FastAPI:
    settings = settings or CaseServiceSettings()
    policy = load_policy(settings.case_policy_file)
    app: FastAPI
    handlers = InboundHandlers(lambda: app.state.case_service)
    app = event_sourced_app(
        settings,
        description="The case service: placement, strategy, assignment, stages, holds, balance.",
        routers=[cases.router, imports.router, kpis.router, staff.router],
        subscriptions=[
            Subscription("case-service.placements", ["integration.placements"], handlers.on_placement),
            Subscription("case-service.payments", ["collections.payments"], handlers.on_payment),
            Subscription("case-service.contacts", ["collections.contacts"], handlers.on_contact),
        ],
        timer_handlers={AGEING_TIMER: handlers.on_ageing, HOLD_EXPIRY_TIMER: handlers.on_hold_expiry},
    )
    runtime: EventSourcingRuntime = app.state.runtime
    app.state.case_service = CaseService(runtime.engine, runtime.store, runtime.clock, policy)
    app.state.import_tasks = set()
    app.state.lifespan_hooks.append(_case_service_lifespan)
    errors.install(app)
    return app


@asynccontextmanager
async def _case_service_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Make sure tomorrow's ageing run is scheduled; on shutdown, stop imports still running
    (their committed chunks stay; importing the file again adds the rest)."""
    service: CaseService = app.state.case_service
    due = next_midnight(service.clock.now())
    async with service.engine.begin() as conn:
        await conn.execute(
            _ENSURE_AGEING_TIMER, {"kind": AGEING_TIMER, "key": due.date().isoformat(), "due_at": due}
        )
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


cli = service_cli(create_app, CaseServiceSettings, MIGRATIONS)


@cli.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV or JSON Lines")
    ],
    format: Annotated[str | None, typer.Option(help="csv or jsonl (default: from the file name)")] = None,
) -> None:
    """Import a portfolio file into the case database, with a progress bar (same rules as POST /imports)."""
    from case_service.cli import import_path

    import_path(CaseServiceSettings(), file, format)


if __name__ == "__main__":
    cli()
