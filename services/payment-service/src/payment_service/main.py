"""Wiring of the payment service: settings, app factory (`payment_service.main:create_app`), CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic import Field

from dcp_platform.eventsourcing.runtime import EventSourcingRuntime
from dcp_platform.service import event_sourced_app, service_cli
from dcp_platform.settings import ServiceSettings
from payment_service.api import arrangements, payments
from payment_service.application.commands import PaymentCommands
from payment_service.application.handlers import subscriptions, timer_handlers
from payment_service.domain.ledger import ArrangementPolicy

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class PaymentServiceSettings(ServiceSettings):
    service_name: str = "payment-service"
    http_port: int = 8003

    promise_grace_days: int = Field(
        default=2, ge=0, description="Days after a promise's due date it may still be paid."
    )
    installment_grace_days: int = Field(default=3, ge=0)
    settlement_grace_days: int = Field(default=0, ge=0)
    plan_max_term_months: int = Field(default=60, ge=1, description="No plan runs longer.")
    plan_supervisor_term_months: int = Field(default=12, ge=1, description="Longer plans need a supervisor.")
    plan_missed_installments_to_break: int = Field(default=2, ge=1)
    supervisor_discount_bps: int = Field(
        default=2000,
        ge=0,
        le=10_000,
        description="Plans and settlements discounting more (basis points) need a supervisor.",
    )
    settlement_max_days: int = Field(default=180, ge=0)
    settlement_supervisor_days: int = Field(
        default=30, ge=0, description="Later deadlines need a supervisor."
    )

    def arrangement_policy(self) -> ArrangementPolicy:
        return ArrangementPolicy(
            promise_grace_days=self.promise_grace_days,
            installment_grace_days=self.installment_grace_days,
            settlement_grace_days=self.settlement_grace_days,
            plan_max_term_months=self.plan_max_term_months,
            plan_supervisor_term_months=self.plan_supervisor_term_months,
            plan_missed_installments_to_break=self.plan_missed_installments_to_break,
            supervisor_discount_bps=self.supervisor_discount_bps,
            settlement_max_days=self.settlement_max_days,
            settlement_supervisor_days=self.settlement_supervisor_days,
        )


def create_app(settings: PaymentServiceSettings | None = None) -> FastAPI:
    settings = settings or PaymentServiceSettings()
    commands = PaymentCommands(settings.arrangement_policy())
    app = event_sourced_app(
        settings,
        description="The payment service: payments, reversals, promises, payment plans and settlements.",
        routers=[payments.router, arrangements.router],
        subscriptions=subscriptions(commands),
        timer_handlers=timer_handlers(commands),
    )
    runtime: EventSourcingRuntime = app.state.runtime
    commands.bind(runtime.engine, runtime.store, runtime.clock, on_commit=runtime.relay.wake)
    app.state.commands = commands
    return app


cli = service_cli(create_app, PaymentServiceSettings, MIGRATIONS)

if __name__ == "__main__":
    cli()
