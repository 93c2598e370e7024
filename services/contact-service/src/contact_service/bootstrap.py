"""The one place that wires the contact service: runtime, environment, command bus, consumers,
subscriptions and routers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI

from contact_service.adapters.permit_key import load_permit_signer
from contact_service.adapters.unit_of_work import read_models, unit_of_work_factory
from contact_service.api import (
    cases,
    channels,
    contacts,
    debtor_requests,
    disputes,
    messages,
    permits,
    promises,
    worklists,
)
from contact_service.api.deps import ContactApi
from contact_service.application.consumers import ContactConsumers
from contact_service.application.handlers import COMMAND_HANDLERS
from contact_service.application.messaging import Channels
from contact_service.application.permits import PERMIT_EXPIRY
from contact_service.application.ports import ContactBus, ContactEnvironment, contacts_repository
from contact_service.channels.base import ChannelAdapter
from contact_service.channels.content import Collector
from contact_service.channels.email import SmtpEmail, SmtpSettings
from contact_service.channels.letter_house import LetterStore
from contact_service.channels.sms import HttpSmsGateway
from contact_service.domain.fx import FxTable, packaged_table
from contact_service.settings import ContactServiceSettings
from dcp_compliance import follow_pack_activations
from dcp_events import CloudEvent
from dcp_events.catalogue.enums import Channel
from dcp_events.catalogue.payments import PromiseBroken, PromiseKept
from dcp_events.catalogue.policies import TOPIC as POLICIES_TOPIC
from dcp_events.catalogue.staff import StaffMemberChanged
from dcp_platform.application import CommandBus
from dcp_platform.disclosure import Disclosures
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.service import build_runtime, event_sourced_app

ROUTERS = (
    contacts.router,
    permits.router,
    messages.router,
    channels.router,
    promises.router,
    debtor_requests.router,
    disputes.router,
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
            "contact-service.staff",
            ["collections.staff"],
            handlers.on_staff_event,
            handles=(StaffMemberChanged,),
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


def sending_channels(settings: ContactServiceSettings) -> Channels:
    """The adapters of the channels configured (e-mail with SMTP_HOST, SMS with SMS_GATEWAY_URL; letters
    always, to the letters directory)."""
    adapters: dict[Channel, ChannelAdapter] = {Channel.LETTER: LetterStore(settings.letters_dir)}
    if settings.smtp_host:
        adapters[Channel.EMAIL] = SmtpEmail(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                starttls=settings.smtp_starttls,
                use_tls=settings.smtp_use_tls,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                timeout=settings.smtp_timeout_seconds,
                sender=settings.smtp_from,
            )
        )
    if settings.sms_gateway_url and settings.sms_gateway_api_key:
        adapters[Channel.SMS] = HttpSmsGateway(
            settings.sms_gateway_url,
            settings.sms_gateway_api_key.get_secret_value(),
            settings.sms_sender,
            settings.contact_public_url,
        )
    collector = Collector(
        name=settings.collector_name,
        address=tuple(line for line in settings.collector_address.split("|") if line),
        phone=settings.collector_phone,
        email=settings.collector_email,
        website=settings.collector_website,
    )
    return Channels(adapters, collector, settings.contact_public_url)


def _follow_policies(env: ContactEnvironment, event: CloudEvent) -> None:
    """The rule packs the gate decides by, and the propensity model the worklists are ranked by."""
    follow_pack_activations(event)
    env.scoring.follow(event)


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
    # The rule packs activated at runtime (PolicyActivated), in force from their activation: every
    # replica reads collections.policies whole and follows it, so the gate switches without a restart.
    runtime.follow(POLICIES_TOPIC, functools.partial(_follow_policies, env))
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
    app.state.channels = sending_channels(settings)
    key = settings.sms_gateway_api_key
    app.state.sms_gateway_key = key.get_secret_value() if key is not None else None
    return app
