"""Wiring of the payment service: settings, app factory (`payment_service.main:create_app`), CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from dcp_platform.service import event_sourced_app, service_cli
from dcp_platform.settings import ServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class PaymentServiceSettings(ServiceSettings):
    service_name: str = "payment-service"
    http_port: int = 8003


def create_app(settings: PaymentServiceSettings | None = None) -> FastAPI:
    return event_sourced_app(
        settings or PaymentServiceSettings(),
        description="The payment service: payments, reversals, promise settlement and payment plans.",
    )


cli = service_cli(create_app, PaymentServiceSettings, MIGRATIONS)

if __name__ == "__main__":
    cli()
