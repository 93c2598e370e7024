"""pytest fixtures for tests that need the local stack (registered as the ``dcp_devstack`` pytest11 plugin).

Fixtures are lazy: the stack is only touched when a test requests one of them. Tests that do should be
marked ``@pytest.mark.integration``. Environment variables win (see :func:`dcp_devstack.ensure_stack`).
The helpers tests share (``eventually``, ``token``, ``new_database``, ``service_under_test``, ...) live
beside this plugin in :mod:`dcp_devstack.testing`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from .stack import StackEndpoints, ensure_stack, stop_stack
from .testing import new_topic_prefix, temporary_database

_ENV_KEYS = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEndpoints]:
    """The running stack: the servers named by the env vars, else the embedded ones (stopped at the end
    of the session if this fixture started them). The endpoints are exported to os.environ meanwhile."""
    endpoints = ensure_stack()
    saved = {key: os.environ.get(key) for key in _ENV_KEYS}
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = endpoints.kafka_bootstrap
    os.environ["DATABASE_URL"] = endpoints.database_url
    try:
        yield endpoints
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if endpoints.started:
            stop_stack(components=endpoints.started_components)  # what this session started, only


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackEndpoints) -> str:
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def database_server_url(stack: StackEndpoints) -> str:
    """Server-level URL (database ``postgres``); use ``database_url_for(url, name)`` for a database."""
    return stack.database_url


@pytest.fixture
async def fresh_database(database_server_url: str) -> AsyncIterator[str]:
    """A new, empty database on the stack's server for one test (dropped with FORCE afterwards); its URL."""
    async with temporary_database(database_server_url) as url:
        yield url


@pytest.fixture
async def new_topic(kafka_bootstrap: str) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """A factory of new, uniquely named topics (each with its `.dlq`) for one test."""
    from .kafka import create_topics_async

    async def make(prefix: str = "test", partitions: int = 3) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        await create_topics_async(kafka_bootstrap, {name: partitions, f"{name}.dlq": 1})
        return name

    yield make


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str) -> str:
    """A unique prefix under which every catalogue topic and its DLQ exists, for one test.

    Services started with `KAFKA_TOPIC_PREFIX` set to it publish and consume only there, so
    tests sharing one broker never see each other's events.
    """
    return await new_topic_prefix(kafka_bootstrap)
