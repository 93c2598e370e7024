"""The payment service's entry point: settings, the app factory (`payment_service.main:create_app`), CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from dcp_platform.service import service_cli
from payment_service.bootstrap import bootstrap
from payment_service.settings import PaymentServiceSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

__all__ = ["MIGRATIONS", "PaymentServiceSettings", "cli", "create_app"]


def create_app(settings: PaymentServiceSettings | None = None) -> FastAPI:
    return bootstrap(settings or PaymentServiceSettings())


cli = service_cli(create_app, PaymentServiceSettings, MIGRATIONS)

if __name__ == "__main__":
    cli()
