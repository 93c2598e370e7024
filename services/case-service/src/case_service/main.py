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


if __name__ == "__main__":
    cli()
