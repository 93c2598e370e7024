"""Tables of the event-sourcing machinery, created by each service's first migration."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = MetaData()

# The append-only event store. `position` is the global order of insertion (not of commit).
events = Table(
    "events",
    metadata,
    Column("position", BigInteger, Identity(always=True), primary_key=True),
    Column("stream_id", String(200), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("metadata", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("stream_id", "stream_version", name="events_stream_version_key"),
)

# One row per event not yet published to Kafka. The relay deletes rows once the broker
# acknowledged them, so an event whose transaction commits late is simply still here
# when the relay looks next: nothing is skipped, and writers take no table lock.
outbox = Table(
    "outbox",
    metadata,
    Column("position", BigInteger, primary_key=True),
    Column("enqueued_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# How far the relay got (for operators; correctness rests on the outbox rows).
relay_progress = Table(
    "relay_progress",
    metadata,
    Column("relay", String(100), primary_key=True),
    Column("last_position", BigInteger, nullable=False),
    Column("published_total", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Kafka offsets owned by the application: committed in the same transaction as the effects.
consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("consumer_group", String(200), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer_group", "topic", "partition"),
)

# Event ids a consumer group has applied: a duplicate delivery has no second effect.
processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer_group", String(200), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer_group", "event_id"),
)

# Durable timers: due dates, expiries and daily jobs survive restarts.
timers = Table(
    "timers",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("key", String(300), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("fired_at", DateTime(timezone=True)),
    UniqueConstraint("kind", "key", name="timers_kind_key"),
)
Index("timers_due", timers.c.due_at, postgresql_where=timers.c.fired_at.is_(None))

NOTIFY_CHANNEL = "dcp_outbox"

# One notification per inserting statement wakes the relay; it carries no data.
_NOTIFY_DDL = [
    f"""
    CREATE OR REPLACE FUNCTION dcp_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
      RETURN NULL;
    END $$
    """,
    "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
    """
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION dcp_outbox_notify()
    """,
]


def ddl_statements() -> list[str]:
    """The statements that create the machinery's functions and triggers (after the tables)."""
    return list(_NOTIFY_DDL)


async def install(engine: AsyncEngine) -> None:
    """Create the tables and triggers if missing (tests and the migration both use this)."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for statement in ddl_statements():
            await conn.exec_driver_sql(statement)
