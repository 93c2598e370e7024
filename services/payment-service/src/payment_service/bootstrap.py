"""The one place that wires the payment service: runtime, commands, subscriptions, timers, routers."""

from __future__ import annotations

from fastapi import FastAPI

from dcp_platform.service import build_runtime, event_sourced_app
from payment_service.api import arrangements, payments
from payment_service.application.commands import PaymentCommands
from payment_service.application.handlers import subscriptions, timer_handlers
from payment_service.settings import PaymentServiceSettings

ROUTERS = (payments.router, arrangements.router)


def bootstrap(settings: PaymentServiceSettings) -> FastAPI:
    runtime = build_runtime(settings)
    commands = PaymentCommands(settings.arrangement_policy())
    commands.bind(runtime.engine, runtime.store, runtime.clock, on_commit=runtime.relay.wake)
    for subscription in subscriptions(commands):
        runtime.subscribe(subscription)
    for kind, handler in timer_handlers(commands).items():
        runtime.on_timer(kind, handler)
    app = event_sourced_app(
        settings,
        runtime=runtime,
        description="The payment service: payments, reversals, promises, payment plans and settlements.",
        routers=ROUTERS,
    )
    app.state.commands = commands
    return app
