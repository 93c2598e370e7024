"""The PostgreSQL unit of work passes the contact service's unit-of-work contract (as the in-memory
one of the fast application tests does)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from contact_service.adapters.unit_of_work import unit_of_work_factory
from contact_service.adapters.unit_of_work_contract import NOW, ContactUnitOfWorkContract
from contact_service.application.ports import contacts_repository
from contact_service.main import MIGRATIONS
from dcp_devstack.testing import migrated_database
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.store import EventStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def database(database_server_url: str) -> AsyncIterator[str]:
    async with migrated_database(database_server_url, MIGRATIONS) as url:
        yield url


class TestPostgresContactUnitOfWork(ContactUnitOfWorkContract):
    @pytest.fixture
    async def begin(self, database: str) -> AsyncIterator[Any]:
        engine = create_engine(database)
        store = EventStore(engine)
        factory = unit_of_work_factory(store, contacts_repository(store, ManualClock(NOW)))
        try:
            yield lambda: factory(None)
        finally:
            await engine.dispose()
