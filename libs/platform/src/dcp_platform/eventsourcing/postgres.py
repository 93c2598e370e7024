"""PostgreSQL plumbing for the machinery: engines and raw asyncpg connections from one URL."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def sqlalchemy_url(url: str) -> str:
    """`postgresql://...` (or `postgres://`) as the asyncpg dialect URL SQLAlchemy wants."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The same database as a DSN asyncpg accepts."""
    parsed = make_url(sqlalchemy_url(url))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


PREPARED_STATEMENT_CACHE_SIZE = 2048


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    # No pre-ping: it costs a round trip per checkout. After a database restart the first use of
    # a stale connection fails once and SQLAlchemy invalidates the pool.
    # A consumer batch opens a savepoint per record, each with its own name (sa_savepoint_1, _2, ...)
    # and so its own prepared statement: a per-connection cache larger than a batch's names keeps
    # them prepared across batches (the default, 100, re-prepared them every time).
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"prepared_statement_cache_size": PREPARED_STATEMENT_CACHE_SIZE},
    )


async def connect(url: str) -> asyncpg.Connection:
    """A dedicated connection outside the pool (LISTEN, advisory locks)."""
    return await asyncpg.connect(asyncpg_dsn(url))
