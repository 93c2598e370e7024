"""The one place that wires the case service: runtime, application service, handlers, subscriptions,
timers and routers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from case_service.adapters import experiments as experiment_book
from case_service.adapters import timers as case_timers
from case_service.adapters.policy_file import load_policy
from case_service.adapters.unit_of_work import SOURCE, case_repository, unit_of_work_factory
from case_service.api import cases, debtors, imports, kpis, legal, notes, policies, staff, vulnerabilities
from case_service.api.deps import CaseApi
from case_service.application.consumers import CONTACT_EVENTS, PAYMENT_EVENTS, CaseConsumers
from case_service.application.handlers import (
    AGEING_TIMER,
    COMMAND_HANDLERS,
    EXPERIMENT_REVIEW_TIMER,
    HOLD_EXPIRY_TIMER,
    INTEREST_TIMER,
    RETENTION_TIMER,
    VULNERABILITY_REVIEW_TIMER,
)
from case_service.application.policies import apply_activation
from case_service.application.ports import CaseBus, CaseEnvironment
from case_service.settings import CaseServiceSettings
from dcp_compliance import follow_pack_activations
from dcp_events import CloudEvent
from dcp_events.catalogue.building import parse_data
from dcp_events.catalogue.policies import TOPIC as POLICIES_TOPIC
from dcp_events.catalogue.policies import PolicyActivated
from dcp_platform.application import CommandBus
from dcp_platform.disclosure import Disclosures
from dcp_platform.eventsourcing.runtime import Subscription
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.service import build_runtime, event_sourced_app

log = logging.getLogger(__name__)

ROUTERS = (
    cases.router,
    notes.router,
    legal.router,
    vulnerabilities.router,
    imports.router,
    kpis.router,
    staff.router,
    debtors.router,
    policies.router,
)


def subscriptions(handlers: CaseConsumers) -> list[Subscription]:
    return [
        Subscription(
            "case-service.placements",
            ["integration.placements"],
            handlers.on_placement,
            batch_handler=handlers.on_placements,
        ),
        Subscription(
            "case-service.payments", ["collections.payments"], handlers.on_payment, handles=PAYMENT_EVENTS
        ),
        Subscription(
            "case-service.contacts", ["collections.contacts"], handlers.on_contact, handles=CONTACT_EVENTS
        ),
    ]


def case_bus(store: EventStore, env: CaseEnvironment) -> CaseBus:
    """The command bus over the service's event store: the one handler table, PostgreSQL units of work."""
    return CommandBus(COMMAND_HANDLERS, unit_of_work_factory(store, case_repository(store, env), env), env)


def bootstrap(settings: CaseServiceSettings) -> FastAPI:
    runtime = build_runtime(settings)
    vault = runtime.sealer.vault if runtime.sealer is not None else None
    env = CaseEnvironment(load_policy(settings.case_policy_file), runtime.clock, keys=vault)
    bus = case_bus(runtime.store, env)
    handlers = CaseConsumers(bus)
    for subscription in subscriptions(handlers):
        runtime.subscribe(subscription)
    runtime.on_timer(AGEING_TIMER, handlers.on_ageing)
    runtime.on_timer(INTEREST_TIMER, handlers.on_interest)
    runtime.on_timer(HOLD_EXPIRY_TIMER, handlers.on_hold_expiry)
    runtime.on_timer(RETENTION_TIMER, handlers.on_retention)
    runtime.on_timer(VULNERABILITY_REVIEW_TIMER, handlers.on_vulnerability_review)
    runtime.on_timer(EXPERIMENT_REVIEW_TIMER, handlers.on_experiment_review)
    runtime.follow(POLICIES_TOPIC, functools.partial(follow_policies, env))
    app = event_sourced_app(
        settings,
        runtime=runtime,
        description="The case service: placement, strategy, assignment, stages, holds, balance.",
        routers=ROUTERS,
    )
    app.state.case_api = CaseApi(
        bus,
        env,
        runtime.engine,
        runtime.store,
        Disclosures(
            runtime.store,
            runtime.clock,
            source=SOURCE,
            pii_roles=settings.personal_data_roles,
            unmask_roles=settings.unmask_roles,
        ),
    )
    app.state.import_tasks = set()
    app.state.lifespan_hooks.append(_case_service_lifespan)
    return app


def follow_policies(env: CaseEnvironment, event: CloudEvent) -> None:
    """Every replica follows collections.policies whole: the rule packs and the collection policy in
    force switch as each activation arrives (and are rebuilt from the topic after a restart)."""
    follow_pack_activations(event)
    if event.type.startswith("collections.policy.activated."):
        payload = parse_data(event)
        if isinstance(payload, PolicyActivated):
            apply_activation(env, payload)


STOPPED_ARMS_REFRESH_SECONDS = 10.0


async def _follow_stopped_arms(api: CaseApi) -> None:
    """Experiment arms another replica's review stopped reach this one's segmentation within
    seconds (its own review stops them at once)."""
    while True:
        try:
            async with api.engine.connect() as conn:
                api.env.stop_arms(frozenset(await experiment_book.stops(conn)))
        except Exception:
            log.warning("could not read the stopped experiment arms; retrying", exc_info=True)
        await asyncio.sleep(STOPPED_ARMS_REFRESH_SECONDS)


@asynccontextmanager
async def _case_service_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Make sure tomorrow's ageing run is scheduled; on shutdown, stop imports still running
    (their committed chunks stay; importing the file again adds the rest)."""
    api: CaseApi = app.state.case_api
    async with api.engine.begin() as conn:
        await case_timers.ensure_ageing_timer(conn, api.clock.now())
        await case_timers.ensure_interest_timer(conn, api.clock.now())
        await case_timers.ensure_experiment_review_timer(conn, api.clock.now())
    app.state.runtime.timers.wake()
    refresh = asyncio.create_task(_follow_stopped_arms(api))
    try:
        yield
    finally:
        refresh.cancel()
        tasks: set[asyncio.Task[None]] = app.state.import_tasks
        for task in list(tasks):
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
