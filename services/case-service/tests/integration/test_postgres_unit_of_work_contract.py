"""The PostgreSQL unit of work passes the case service's unit-of-work contract (as the in-memory
one of the fast application tests does)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from case_service.adapters.policy_file import load_policy
from case_service.adapters.unit_of_work import case_repository, unit_of_work_factory
from case_service.adapters.unit_of_work_contract import NOW, CaseUnitOfWorkContract
from case_service.application.ports import CaseEnvironment
from case_service.main import MIGRATIONS
from dcp_devstack.testing import migrated_database
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.store import EventStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def database(database_server_url: str) -> AsyncIterator[str]:
    async with migrated_database(database_server_url, MIGRATIONS) as url:
        yield url


class TestPostgresCaseUnitOfWork(CaseUnitOfWorkContract):
    @pytest.fixture
    def env(self) -> CaseEnvironment:
        return CaseEnvironment(load_policy(), ManualClock(NOW))

    @pytest.fixture
    async def begin(self, database: str, env: CaseEnvironment) -> AsyncIterator[Any]:
        engine = create_engine(database)
        store = EventStore(engine)
        factory = unit_of_work_factory(store, case_repository(store, env), env)
        try:
            yield lambda: factory(None)
        finally:
            await engine.dispose()
