"""Wiring of the contact service: settings, app factory (`contact_service.main:create_app`), CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from dcp_platform.service import event_sourced_app, service_cli
from dcp_platform.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class ContactServiceSettings(ServiceSettings):
    service_name: str = "contact-service"
    http_port: int = 8002


def create_app(settings: ContactServiceSettings | None = None) -> FastAPI:
    return event_sourced_app(
        settings or ContactServiceSettings(),
        description="The contact service: contact attempts, the contact gate, promises and debtor requests.",
    )


cli = service_cli(create_app, ContactServiceSettings, MIGRATIONS)

if __name__ == "__main__":
    cli()
