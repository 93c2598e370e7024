"""The case service's entry point: settings, the app factory (`case_service.main:create_app`), its CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI

from case_service.bootstrap import bootstrap
from case_service.settings import CaseServiceSettings
from dcp_platform.service import service_cli

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "CaseServiceSettings", "cli", "create_app"]


def create_app(settings: CaseServiceSettings | None = None) -> FastAPI:
    return bootstrap(settings or CaseServiceSettings())


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


@cli.command("train-propensity")
def train_command(
    reason: Annotated[str, typer.Option(help="Why this model (kept with the version)")] = "retrained",
    horizon_days: Annotated[int, typer.Option(min=1, max=90, help="Payment within this many days")] = 7,
    seed: Annotated[int, typer.Option(min=0, help="Training is reproducible for a seed")] = 7,
) -> None:
    """Train the propensity model on the outcome history in the case database and store it as the
    next version of the `propensity-model` policy (activate it with the API, like any version)."""
    from case_service.cli import train_propensity

    train_propensity(CaseServiceSettings(), reason, horizon_days, seed)


if __name__ == "__main__":
    cli()
