"""Assembles an event-sourced service: the app with its runtime, and its command line (serve, migrate)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import typer
from fastapi import APIRouter, FastAPI

from dcp_platform import migrations, problems
from dcp_platform.app import create_service_app, serve
from dcp_platform.eventsourcing import store
from dcp_platform.eventsourcing.runtime import EventSourcingRuntime, Subscription
from dcp_platform.eventsourcing.timers import TimerHandler
from dcp_platform.problems import map_domain_error
from dcp_platform.settings import ServiceSettings


def build_runtime(
    settings: ServiceSettings,
    *,
    subscriptions: Sequence[Subscription] = (),
    timer_handlers: Mapping[str, TimerHandler] | None = None,
) -> EventSourcingRuntime:
    """The service's event store, outbox relay, consumers and timers, on the settings' clock; a
    service's bootstrap adds its subscriptions and timer handlers with `subscribe` / `on_timer`."""
    return EventSourcingRuntime(
        database_url=settings.database_dsn,
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
        clock=settings.make_clock(),
        service_name=settings.service_name,
        subscriptions=subscriptions,
        timer_handlers=dict(timer_handlers or {}),
        topic_prefix=settings.kafka_topic_prefix,
        sealer=settings.make_sealer(),
    )


def event_sourced_app(
    settings: ServiceSettings,
    *,
    description: str,
    routers: Sequence[APIRouter] = (),
    subscriptions: Sequence[Subscription] = (),
    timer_handlers: Mapping[str, TimerHandler] | None = None,
    runtime: EventSourcingRuntime | None = None,
) -> FastAPI:
    """The service app with its event store, outbox relay, consumers and timers started in its lifespan.

    The runtime is at `app.state.runtime` for the routes' dependencies.
    """
    if runtime is None:
        runtime = build_runtime(settings, subscriptions=subscriptions, timer_handlers=timer_handlers)
    clock = runtime.clock
    app = create_service_app(
        settings, routers=routers, lifespan_hooks=[runtime.lifespan], clock=clock, description=description
    )
    app.state.clock_listeners.append(runtime.timers.wake)
    app.state.runtime = runtime
    app.state.consumers = runtime.consumers  # every service app names its consumer groups here
    # A concurrent writer won the race for the same stream: the client re-reads and retries.
    map_domain_error(app, store.ConcurrencyConflict, problems.ConcurrencyConflict)
    map_domain_error(app, store.DuplicateEventId, problems.Conflict)
    return app


def service_cli(
    create_app: Callable[[], FastAPI], settings_factory: Callable[[], ServiceSettings], migrations_dir: Path
) -> typer.Typer:
    """`python -m <service>.main serve|migrate`."""
    cli = typer.Typer(add_completion=False, no_args_is_help=True)

    @cli.command("serve")
    def serve_command() -> None:
        """Run the HTTP service (and its relay, consumers and timers)."""
        serve(create_app())

    @cli.command("migrate")
    def migrate_command(revision: str = "head") -> None:
        """Bring the service's database schema to REVISION (run before each rollout)."""
        settings = settings_factory()
        migrations.upgrade(migrations_dir, settings.sqlalchemy_url, revision)
        typer.echo(f"{settings.service_name}: database {settings.database_name} at {revision}")

    return cli
