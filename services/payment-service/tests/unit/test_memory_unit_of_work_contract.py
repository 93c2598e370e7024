"""The in-memory unit of work passes the payment service's unit-of-work contract (as PostgreSQL does)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from dcp_platform.clock import ManualClock
from payment_service.adapters.memory import InMemoryPaymentService
from payment_service.adapters.unit_of_work_contract import (
    NOW,
    POLICY,
    ContractTimerHandler,
    FireDue,
    PaymentUnitOfWorkContract,
)
from payment_service.application.ports import PaymentEnvironment


class TestInMemoryPaymentUnitOfWork(PaymentUnitOfWorkContract):
    @pytest.fixture
    def env(self) -> PaymentEnvironment:
        return PaymentEnvironment(POLICY, ManualClock(NOW))

    @pytest.fixture
    def service(self, env: PaymentEnvironment) -> InMemoryPaymentService:
        return InMemoryPaymentService(env)

    @pytest.fixture
    def begin(self, service: InMemoryPaymentService) -> Any:
        return lambda tx=None: service.bus.unit_of_work(tx)

    @pytest.fixture
    def transaction(self, service: InMemoryPaymentService) -> Any:
        return service.store.transaction

    @pytest.fixture
    def fire_due(self, service: InMemoryPaymentService) -> FireDue:
        async def fire(handlers: Mapping[str, ContractTimerHandler]) -> None:
            await service.fire_due_timers(handlers)

        return fire
