"""Wiring of the payment service: its settings, the app factory (`payment_service.main:create_app`) and its CLI."""

from __future__ import annotations

from pathlib import Path

from dcp_platform.service import event_sourced_app, service_cli
from dcp_platform.settings import ServiceSettings
from fastapi import FastAPI

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
