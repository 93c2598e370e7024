"""`case-service import FILE`: the bulk import from a terminal, with a progress bar; `case-service
train-propensity`: the propensity model trained on the case database's outcome history."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import IO

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from case_service.adapters.policy_file import load_policy
from case_service.application.commands import ImportProgress
from case_service.application.imports import create_import, format_for, run_import
from case_service.application.ports import CaseEnvironment
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.settings import ServiceSettings


def import_path(settings: ServiceSettings, path: Path, fmt: str | None) -> ImportProgress:
    with path.open("rb") as source:
        return asyncio.run(import_file(settings, source, path.name, path.stat().st_size, fmt))


async def import_file(
    settings: ServiceSettings, source: IO[bytes], name: str, size: int, fmt: str | None
) -> ImportProgress:
    """Run the import against the service database; the running service's relay publishes the events
    (the outbox is in the same database)."""
    console = Console()
    try:
        chosen = format_for(None, name, fmt)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    engine = create_engine(settings.database_dsn, pool_size=2, max_overflow=0)
    policy = load_policy(getattr(settings, "case_policy_file", None))
    from case_service.bootstrap import case_bus

    bus = case_bus(EventStore(engine), CaseEnvironment(policy, settings.make_clock()))
    started = time.perf_counter()
    try:
        with bind_context(actor_id="case-service-cli", actor_role="admin"):
            import_id = await create_import(bus, fmt=chosen, filename=name, actor="cli", bytes_total=size)
            columns = (
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=console) as bar:
                task = bar.add_task(f"import {name}", total=size, counts="")

                def show(p: ImportProgress) -> None:
                    counts = f"rows {p.rows_read} opened {p.accepted} dup {p.duplicates} bad {p.rejected}"
                    bar.update(task, completed=p.bytes_read, counts=counts)

                progress = await run_import(bus, import_id, source, chosen, on_progress=show)
                bar.update(task, completed=size)
    finally:
        await engine.dispose()
    console.print(
        f"import {import_id}: {progress.rows_read} rows, {progress.accepted} opened, {progress.duplicates}"
        f" already placed, {progress.rejected} rejected in {time.perf_counter() - started:.1f}s"
        f" (details: GET /imports/{import_id})"
    )
    return progress


def train_propensity(settings: ServiceSettings, reason: str, horizon_days: int, seed: int) -> None:
    asyncio.run(_train(settings, reason, horizon_days, seed))


async def _train(settings: ServiceSettings, reason: str, horizon_days: int, seed: int) -> None:
    from case_service.application.commands import TrainPropensityModel
    from case_service.bootstrap import case_bus

    console = Console()
    engine = create_engine(settings.database_dsn, pool_size=2, max_overflow=0)
    policy = load_policy(getattr(settings, "case_policy_file", None))
    bus = case_bus(EventStore(engine), CaseEnvironment(policy, settings.make_clock()))
    try:
        with bind_context(actor_id="case-service-cli", actor_role="admin"):
            row = await bus.handle(TrainPropensityModel("cli", reason, horizon_days, seed))
    finally:
        await engine.dispose()
    metrics = row["document"]["metrics"]["pay"]
    console.print(
        f"propensity-model version {row['version']} stored (not in force yet): "
        f"held-out AUC {metrics['auc']}, "
        f"top fifth pays {metrics['top_fifth_rate']:.1%} against {metrics['held_out_positive_rate']:.1%} "
        f"(lift {metrics['lift_over_random']}x over random)"
    )
