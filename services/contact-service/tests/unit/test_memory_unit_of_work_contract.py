"""The in-memory unit of work passes the contact service's unit-of-work contract (as PostgreSQL does)."""

from __future__ import annotations

from typing import Any

import pytest

from contact_service.adapters.memory import InMemoryContactService
from contact_service.adapters.unit_of_work_contract import NOW, ContactUnitOfWorkContract
from contact_service.application.ports import ContactEnvironment
from dcp_platform.clock import ManualClock


class TestInMemoryContactUnitOfWork(ContactUnitOfWorkContract):
    @pytest.fixture
    def begin(self) -> Any:
        service = InMemoryContactService(ContactEnvironment(ManualClock(NOW)))
        return lambda: service.bus.unit_of_work(None)
