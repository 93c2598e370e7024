"""pytest fixtures for tests that need the local stack (registered as the ``dcp_devstack`` pytest11 plugin).

Fixtures are lazy: the stack is only touched when a test requests one of them. Tests that do should be
marked ``@pytest.mark.integration``. Environment variables win (see :func:`dcp_devstack.ensure_stack`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .stack import StackEndpoints, ensure_stack, stop_stack

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
            stop_stack()


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: StackEndpoints) -> str:
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def database_server_url(stack: StackEndpoints) -> str:
    """Server-level URL (database ``postgres``); use ``database_url_for(url, name)`` for a database."""
    return stack.database_url
