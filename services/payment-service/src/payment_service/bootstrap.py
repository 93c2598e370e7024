"""The one place that wires the payment service: runtime, command bus, handlers, subscriptions,
timers and routers."""

from __future__ import annotations

from fastapi import FastAPI

from dcp_platform.application import CommandBus
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.eventsourcing.timers import TimerHandler
from dcp_platform.service import build_runtime, event_sourced_app
from payment_service.adapters.ledgers import ledger_repository
from payment_service.adapters.unit_of_work import unit_of_work_factory
from payment_service.api import arrangements, payments, statements
from payment_service.api.deps import PaymentApi
from payment_service.application.consumers import (
    CASE_EVENT_TYPES,
    CONTACT_EVENT_TYPES,
    POSTED_EVENT_TYPES,
    PaymentConsumers,
)
from payment_service.application.handlers import (
    COMMAND_HANDLERS,
    INSTALLMENT_DUE,
    PROMISE_DUE,
    SETTLEMENT_DUE,
)
from payment_service.application.ports import PaymentBus, PaymentEnvironment
from payment_service.settings import PaymentServiceSettings

ROUTERS = (payments.router, arrangements.router, statements.router)


def subscriptions(handlers: PaymentConsumers) -> list[Subscription]:
    return [
        Subscription(
            "payment-service.cases",
            ["collections.cases"],
            handlers.on_case_event,
            handles=CASE_EVENT_TYPES,
            batch_handler=handlers.on_case_events,
        ),
        Subscription(
            "payment-service.contacts",
            ["collections.contacts"],
            handlers.on_contact_event,
            handles=CONTACT_EVENT_TYPES,
        ),
        Subscription(
            "payment-service.integration-payments",
            ["integration.payments"],
            handlers.on_payment_posted,
            handles=POSTED_EVENT_TYPES,
        ),
    ]


def timer_handlers(handlers: PaymentConsumers) -> dict[str, TimerHandler]:
    """Promise, installment and settlement due dates (plus grace) are durable timers."""
    return {
        PROMISE_DUE: handlers.on_promise_due,
        INSTALLMENT_DUE: handlers.on_installment_due,
        SETTLEMENT_DUE: handlers.on_settlement_due,
    }


def payment_bus(store: EventStore, env: PaymentEnvironment) -> PaymentBus:
    """The command bus over the service's event store: the one handler table, PostgreSQL units of work."""
    repository = ledger_repository(store, env.clock)
    return CommandBus(COMMAND_HANDLERS, unit_of_work_factory(store, repository, env), env)


def bootstrap(settings: PaymentServiceSettings) -> FastAPI:
    runtime = build_runtime(settings)
    env = PaymentEnvironment(settings.arrangement_policy(), runtime.clock)
    bus = payment_bus(runtime.store, env)
    handlers = PaymentConsumers(bus)
    for subscription in subscriptions(handlers):
        runtime.subscribe(subscription)
    for kind, handler in timer_handlers(handlers).items():
        runtime.on_timer(kind, handler)
    app = event_sourced_app(
        settings,
        runtime=runtime,
        description="The payment service: payments, reversals, promises, payment plans and settlements.",
        routers=ROUTERS,
    )
    app.state.payment_api = PaymentApi(bus, env, runtime.engine)
    return app
