"""The contact service's entry point: settings, the app factory (`contact_service.main:create_app`), CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from contact_service.bootstrap import bootstrap
from contact_service.settings import ContactServiceSettings
from dcp_platform.service import service_cli

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "ContactServiceSettings", "cli", "create_app"]


def create_app(settings: ContactServiceSettings | None = None) -> FastAPI:
    return bootstrap(settings or ContactServiceSettings())


cli = service_cli(create_app, ContactServiceSettings, MIGRATIONS)

if __name__ == "__main__":
    cli()
