"""Wiring of the case service: its settings, the app factory (`case_service.main:create_app`) and its CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from dcp_platform.service import event_sourced_app, service_cli
from dcp_platform.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class CaseServiceSettings(ServiceSettings):
    service_name: str = "case-service"
    http_port: int = 8001


def create_app(settings: CaseServiceSettings | None = None) -> FastAPI:
    return event_sourced_app(
        settings or CaseServiceSettings(),
        description="The case service: placement, strategy, assignment, stages, holds, balance.",
    )


cli = service_cli(create_app, CaseServiceSettings, MIGRATIONS)

if __name__ == "__main__":
    cli()
