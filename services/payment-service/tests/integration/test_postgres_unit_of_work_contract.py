"""The PostgreSQL unit of work passes the payment service's unit-of-work contract (as the in-memory
one of the fast application tests does)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dcp_devstack.testing import migrated_database
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.postgres import create_engine
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.eventsourcing.timers import TimerWorker
from payment_service.adapters.ledgers import ledger_repository
from payment_service.adapters.unit_of_work import unit_of_work_factory
from payment_service.adapters.unit_of_work_contract import (
    NOW,
    POLICY,
    ContractTimerHandler,
    FireDue,
    PaymentUnitOfWorkContract,
)
from payment_service.application.ports import PaymentEnvironment
from payment_service.main import MIGRATIONS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def database(database_server_url: str) -> AsyncIterator[str]:
    async with migrated_database(database_server_url, MIGRATIONS) as url:
        yield url


class TestPostgresPaymentUnitOfWork(PaymentUnitOfWorkContract):
    @pytest.fixture
    def env(self) -> PaymentEnvironment:
        return PaymentEnvironment(POLICY, ManualClock(NOW))

    @pytest.fixture
    async def engine(self, database: str) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(database)
        try:
            yield engine
        finally:
            await engine.dispose()

    @pytest.fixture
    def store(self, engine: AsyncEngine) -> EventStore:
        return EventStore(engine)

    @pytest.fixture
    def begin(self, store: EventStore, env: PaymentEnvironment) -> Any:
        factory = unit_of_work_factory(store, ledger_repository(store, env.clock), env)
        return lambda tx=None: factory(tx)

    @pytest.fixture
    def transaction(self, store: EventStore) -> Any:
        return store.transaction

    @pytest.fixture
    def fire_due(self, engine: AsyncEngine, env: PaymentEnvironment) -> FireDue:
        async def fire(handlers: Mapping[str, ContractTimerHandler]) -> None:
            await TimerWorker(engine, env.clock, handlers).fire_due()

        return fire
