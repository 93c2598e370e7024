"""Wiring of the audit service: settings, app factory (`audit_service.main:create_app`), CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from dcp_platform.service import event_sourced_app, service_cli
from dcp_platform.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class AuditServiceSettings(ServiceSettings):
    service_name: str = "audit-service"
    http_port: int = 8004


def create_app(settings: AuditServiceSettings | None = None) -> FastAPI:
    return event_sourced_app(
        settings or AuditServiceSettings(),
        description="The audit service: the tamper-evident audit trail of every event.",
    )


cli = service_cli(create_app, AuditServiceSettings, MIGRATIONS)

if __name__ == "__main__":
    cli()
