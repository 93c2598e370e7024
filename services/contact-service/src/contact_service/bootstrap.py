"""The one place that wires the contact service: runtime, environment, command bus, consumers,
subscriptions and routers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI

from contact_service.adapters.permit_key import load_permit_signer
from contact_service.adapters.unit_of_work import read_models, unit_of_work_factory
from contact_service.api import cases, contacts, debtor_requests, permits, promises, worklists
from contact_service.api.deps import ContactApi
from contact_service.application.consumers import ContactConsumers
from contact_service.application.handlers import COMMAND_HANDLERS
from contact_service.application.permits import PERMIT_EXPIRY
from contact_service.application.ports import ContactBus, ContactEnvironment, contacts_repository
from contact_service.domain.fx import FxTable, packaged_table
from contact_service.settings import ContactServiceSettings
from dcp_events.catalogue.payments import PromiseBroken, PromiseKept
from dcp_platform.application import CommandBus
from dcp_platform.disclosure import Disclosures
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.service import build_runtime, event_sourced_app

ROUTERS = (
    contacts.router,
    permits.router,
    promises.router,
    debtor_requests.router,
    worklists.router,
    cases.router,
)


def subscriptions(handlers: ContactConsumers) -> list[Subscription]:
    return [
        Subscription(
            "contact-service.cases",
            ["collections.cases"],
            handlers.on_case_event,
            batch_handler=handlers.on_case_events,
        ),
        Subscription(
            "contact-service.payments",
            ["collections.payments"],
            handlers.on_payment_event,
            handles=(PromiseKept, PromiseBroken),
        ),
        Subscription(
            "contact-service.integration-contacts",
            ["integration.contacts"],
            handlers.on_contact_reported,
        ),
    ]


def contact_bus(
    store: EventStore, env: ContactEnvironment, wake: Callable[[], None] | None = None
) -> ContactBus:
    """The command bus over the service's event store: the one handler table, PostgreSQL units of work."""
    repository = contacts_repository(store, env.clock)
    return CommandBus(COMMAND_HANDLERS, unit_of_work_factory(store, repository, wake), env)


def bootstrap(settings: ContactServiceSettings) -> FastAPI:
    runtime = build_runtime(settings)
    fx_file = settings.contact_worklist_fx_rates_file
    env = ContactEnvironment(
        runtime.clock,
        FxTable.from_file(fx_file) if fx_file else packaged_table(),
        signer=load_permit_signer(settings),
        permit_ttl=timedelta(seconds=settings.contact_permit_ttl_seconds),
        permit_grace=timedelta(seconds=settings.contact_permit_outcome_grace_seconds),
    )
    bus = contact_bus(runtime.store, env, runtime.relay.wake)
    handlers = ContactConsumers(bus)
    for subscription in subscriptions(handlers):
        runtime.subscribe(subscription)
    runtime.on_timer(PERMIT_EXPIRY, handlers.on_permit_expiry)
    app = event_sourced_app(
        settings,
        runtime=runtime,
        description=(
            "The contact service: the compliance gate in front of every contact (rule packs US "
            "Regulation F, GB FCA CONC 7 and breathing space, CN NIFA), contact outcomes, promises, "
            "debtor requests, worklists."
        ),
        routers=ROUTERS,
    )
    app.state.contact_api = ContactApi(
        bus,
        env,
        runtime,
        read_models(runtime.engine),
        Disclosures(
            runtime.store,
            runtime.clock,
            source="/contact-service",
            pii_roles=settings.personal_data_roles,
            unmask_roles=settings.unmask_roles,
        ),
    )
    return app
