"""The in-memory unit of work passes the case service's unit-of-work contract (as PostgreSQL does)."""

from __future__ import annotations

from typing import Any

import pytest

from case_service.adapters.memory import InMemoryCaseService
from case_service.adapters.unit_of_work_contract import NOW, CaseUnitOfWorkContract
from case_service.application.ports import CaseEnvironment
from case_service.domain.policy import CollectionPolicy
from dcp_platform.clock import ManualClock


class TestInMemoryCaseUnitOfWork(CaseUnitOfWorkContract):
    @pytest.fixture
    def env(self, policy: CollectionPolicy) -> CaseEnvironment:
        return CaseEnvironment(policy, ManualClock(NOW))

    @pytest.fixture
    def begin(self, env: CaseEnvironment) -> Any:
        service = InMemoryCaseService(env)
        return lambda: service.bus.unit_of_work(None)
