"""What the repository's tests share: waiting for a condition, development bearer tokens, throw-away
databases and topic prefixes on the stack, and one service running in-process against them.

Import from here (``from dcp_devstack.testing import eventually, token``) instead of keeping a copy in
a conftest. The platform, FastAPI and httpx are imported where they are used, so the pytest plugin that
imports this module loads nothing the stack fixtures do not need.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload
from urllib.parse import urlsplit

from .postgres import _asyncpg_dsn, database_url_for

if TYPE_CHECKING:
    import httpx
    from aiokafka import AIOKafkaProducer
    from fastapi import FastAPI

    from dcp_platform.auth import Role

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0  # seconds; only a failing wait lasts that long


# --- waiting --------------------------------------------------------------------------------------


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    /,
    timeout: float | None = None,  # noqa: ASYNC109 (the poll's deadline, not a cancellation)
    what: str | None = None,
    *,
    retry_on: tuple[type[BaseException], ...] = (),
    max_interval: float = 0.25,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    /,
    what: str,
    timeout: float | None = None,  # noqa: ASYNC109
    *,
    retry_on: tuple[type[BaseException], ...] = (),
    max_interval: float = 0.25,
) -> T: ...


async def eventually(
    check: Callable[[], Awaitable[T]],
    first: float | str | None = None,
    second: float | str | None = None,
    /,
    *,
    timeout: float | None = None,  # noqa: ASYNC109
    what: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    max_interval: float = 0.25,
) -> T:
    """Poll ``check`` until it returns something truthy and return that; at the deadline, fail with an
    AssertionError naming what was awaited and the last value seen.

    After ``check`` come the deadline in seconds and a description of what is awaited, positionally in
    either order (a number is the timeout, a string the description) or by keyword. Exceptions in
    ``retry_on`` count as "not yet" (the last one is chained to the failure). The polls start 50 ms apart
    and back off to ``max_interval``. ``E2E_TIMINGS=1`` prints how long each successful wait took.
    """
    for value in (first, second):
        if value is None:
            continue
        if isinstance(value, str):
            if what is not None:
                raise TypeError("eventually(): the description is given twice")
            what = value
        else:
            if timeout is not None:
                raise TypeError("eventually(): the timeout is given twice")
            timeout = float(value)
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    what = what or _describe(check)
    started = time.monotonic()
    deadline = started + timeout
    delay = 0.05
    last: object = None
    while True:
        try:
            result = await check()
        except retry_on as exc:
            last = exc
        else:
            last = result
            if result:
                if os.environ.get("E2E_TIMINGS"):
                    print(f"[{time.monotonic() - started:6.2f}s] {what}")
                return result
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what}; last seen: {last!r}"
            ) from (last if isinstance(last, BaseException) else None)
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, max_interval)


def _describe(check: Callable[..., object]) -> str:
    name = getattr(check, "__name__", "")
    if name and name != "<lambda>":
        return f"{name}()"
    code = getattr(check, "__code__", None)
    if code is not None:
        return f"the condition at {Path(code.co_filename).name}:{code.co_firstlineno}"
    return repr(check)


# --- bearer tokens --------------------------------------------------------------------------------


def bearer_token(
    role: Role | str = "collector",
    subject: str | None = None,
    *,
    secret: str | None = None,
    issuer: str | None = None,
    audience: str | None = None,
    **claims: Any,
) -> str:
    """A development bearer token, minted as ``dcp-token`` mints it: HS256 with the dev key and the
    issuer and audience a service expects by default; ``subject`` defaults to ``dev-<role>``.

    ``claims`` go to :func:`dcp_platform.tokens.issue_token` (``team``, ``agency_id``, ``name``,
    ``ttl_seconds``, ``clock``); ``secret``, ``issuer`` and ``audience`` are there to mint tokens a
    service must refuse."""
    from dcp_platform.auth import Role
    from dcp_platform.settings import DEV_HS256_SECRET, ServiceSettings
    from dcp_platform.tokens import issue_token

    role = Role(role)
    fields = ServiceSettings.model_fields
    return issue_token(
        secret=DEV_HS256_SECRET if secret is None else secret,
        role=role,
        subject=subject or f"dev-{role.value}",
        issuer=fields["auth_jwt_issuer"].default if issuer is None else issuer,
        audience=fields["auth_jwt_audience"].default if audience is None else audience,
        **claims,
    )


def token(role: Role | str = "collector", subject: str | None = None, **claims: Any) -> dict[str, str]:
    """The ``Authorization`` header of a development bearer token (see :func:`bearer_token`)."""
    return {"Authorization": f"Bearer {bearer_token(role, subject, **claims)}"}


# --- databases and topics -------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def new_database(server_url: str, prefix: str = "t") -> str:
    """Create a new, empty database named ``<prefix>_<random>`` on the server; its URL."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(database_url_for(server_url, "postgres")))
    try:
        await admin.execute(f"CREATE DATABASE {_quoted(name)}")
    finally:
        await admin.close()
    return database_url_for(server_url, name)


async def drop_database(server_url: str, database_url: str) -> None:
    """Drop the database named by ``database_url``, closing what is still connected to it (FORCE)."""
    import asyncpg

    name = urlsplit(database_url).path.lstrip("/")
    admin = await asyncpg.connect(_asyncpg_dsn(database_url_for(server_url, "postgres")))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def temporary_database(server_url: str, prefix: str = "t") -> AsyncIterator[str]:
    """A new, empty database for the duration of the block (dropped with FORCE afterwards); its URL."""
    url = await new_database(server_url, prefix)
    try:
        yield url
    finally:
        await drop_database(server_url, url)


@contextlib.asynccontextmanager
async def migrated_database(server_url: str, migrations: Path) -> AsyncIterator[str]:
    """A new database with a service's migrations applied (to head), for the block; its URL."""
    from dcp_platform import migrations as alembic_migrations
    from dcp_platform.eventsourcing.postgres import sqlalchemy_url

    async with temporary_database(server_url) as url:
        await asyncio.to_thread(alembic_migrations.upgrade, migrations, sqlalchemy_url(url))
        yield url


async def new_topic_prefix(kafka_bootstrap: str, prefix: str = "t") -> str:
    """A unique topic prefix ``<prefix><random>.`` under which every catalogue topic and its DLQ exists.

    Services started with ``KAFKA_TOPIC_PREFIX`` set to it publish and consume only there."""
    from .kafka import create_topics_async
    from .stack import catalogue_topics

    topic_prefix = f"{prefix}{uuid.uuid4().hex[:8]}."
    await create_topics_async(kafka_bootstrap, [topic_prefix + t for t in catalogue_topics()])
    return topic_prefix


# --- one service in-process -----------------------------------------------------------------------


class MigratableSettings(Protocol):
    @property
    def sqlalchemy_url(self) -> str: ...


SettingsT = TypeVar("SettingsT", bound=MigratableSettings)


@contextlib.asynccontextmanager
async def running_app(
    app: FastAPI,
    *,
    base_url: str,
    ready: Callable[[FastAPI], Awaitable[object]] | None = None,
    startup_timeout: float = 60,
    shutdown_timeout: float = 60,
) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan (its relay, consumers and timers) and yield an HTTP client onto it.

    ``ready``, if given, is awaited after startup (e.g. until the consumers have their partitions)."""
    import httpx
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app, startup_timeout=startup_timeout, shutdown_timeout=shutdown_timeout) as lm:
        if ready is not None:
            await asyncio.wait_for(ready(app), startup_timeout)
        transport = httpx.ASGITransport(app=lm.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30) as client:
            yield client


@dataclass
class ServiceUnderTest(Generic[SettingsT]):
    """A service running in-process on its own database and topic prefix, and the means to reach it."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: SettingsT
    database_url: str
    topic_prefix: str
    kafka_bootstrap: str
    producer: AIOKafkaProducer  # idempotent, acks=all: publishes as the other services do
    data_keys_url: str | None = None  # the key vault's database, when personal data is sealed


@contextlib.asynccontextmanager
async def service_under_test(
    create_app: Callable[[SettingsT], FastAPI],
    settings: Callable[..., SettingsT],
    migrations: Path,
    *,
    database_server_url: str,
    kafka_bootstrap: str,
    base_url: str,
    ready: Callable[[FastAPI], Awaitable[object]] | None = None,
    database_prefix: str = "t",
    topic_prefix: str = "t",
    sealed: bool = False,
) -> AsyncIterator[ServiceUnderTest[SettingsT]]:
    """Fresh database + topic prefix, migrations, ``create_app(settings)`` under its lifespan, an httpx
    client and a producer; everything torn down (the database dropped) when the block ends.

    ``settings`` is called with ``service_database_url``, ``kafka_bootstrap_servers`` and
    ``kafka_topic_prefix`` (bind the service's own options with ``functools.partial``)."""
    from aiokafka import AIOKafkaProducer

    from dcp_platform import migrations as alembic_migrations

    prefix = await new_topic_prefix(kafka_bootstrap, topic_prefix)
    async with contextlib.AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(
            temporary_database(database_server_url, database_prefix)
        )
        sealing: dict[str, str] = {}
        if sealed:  # its own key vault, with a master key of its own
            vault = await stack.enter_async_context(temporary_database(database_server_url, "t_keys"))
            master = base64.b64encode(os.urandom(32)).decode()
            sealing = {"data_keys_database_url": vault, "data_master_keys": f"test:{master}"}
        service_settings = settings(
            service_database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_topic_prefix=prefix,
            **sealing,
        )
        await asyncio.to_thread(alembic_migrations.upgrade, migrations, service_settings.sqlalchemy_url)
        app = create_app(service_settings)
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
        await producer.start()
        try:
            async with running_app(app, base_url=base_url, ready=ready) as client:
                yield ServiceUnderTest(
                    app,
                    client,
                    service_settings,
                    database_url,
                    prefix,
                    kafka_bootstrap,
                    producer,
                    sealing.get("data_keys_database_url"),
                )
        finally:
            await producer.stop()
