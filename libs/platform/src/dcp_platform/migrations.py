"""Schema migrations per service (Alembic), runnable as a command before a rollout and by `make run`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import async_engine_from_config

from dcp_platform.eventsourcing import schema as eventsourcing_schema


def alembic_config(script_location: Path, sqlalchemy_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(script_location: Path, sqlalchemy_url: str, revision: str = "head") -> None:
    """Bring the service database to `revision` (creates nothing outside it)."""
    command.upgrade(alembic_config(script_location, sqlalchemy_url), revision)


def run_env(context: object) -> None:
    """The body of every service's `migrations/env.py`: online migrations over the asyncpg driver."""
    from alembic import context as alembic_context

    assert context is alembic_context
    config = alembic_context.config

    def do_run(connection: Connection) -> None:
        alembic_context.configure(connection=connection, target_metadata=None)
        with alembic_context.begin_transaction():
            alembic_context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section)
            or {"sqlalchemy.url": config.get_main_option("sqlalchemy.url")},
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def event_sourcing_revision() -> tuple[str, None, Callable[[], None], Callable[[], None]]:
    """Every service's first revision, "0001": `revision, down_revision, upgrade, downgrade` for its
    module to take (the same tables in every service database)."""
    from alembic import op

    def upgrade() -> None:
        create_event_sourcing_tables(op.get_bind())

    def downgrade() -> None:
        drop_event_sourcing_tables(op.get_bind())

    return "0001", None, upgrade, downgrade


def create_event_sourcing_tables(connection: Connection) -> None:
    """Used by each service's first revision: the event store, outbox, offsets, dedup and timer tables."""
    eventsourcing_schema.metadata.create_all(connection)
    for statement in eventsourcing_schema.ddl_statements():
        connection.exec_driver_sql(statement)


def drop_event_sourcing_tables(connection: Connection) -> None:
    connection.exec_driver_sql("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    connection.exec_driver_sql("DROP FUNCTION IF EXISTS dcp_outbox_notify()")
    eventsourcing_schema.metadata.drop_all(connection)
