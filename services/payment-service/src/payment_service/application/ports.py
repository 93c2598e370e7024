"""What the payment service's handlers need besides the domain: one unit of work per command (the
ledger repository, and the case facts, payment references, read models and timers of the same
transaction), and the environment every handler may read (arrangement policy and clock).

Two implementations: PostgreSQL (`adapters/unit_of_work.py`) and, for the fast application tests,
memory (`adapters/memory.py`, over the platform's in-memory event store).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dcp_platform.application import CommandBus
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing.repository import Repository
from dcp_platform.eventsourcing.timer_ports import TimerPort
from payment_service.domain.ledger import ArrangementPolicy, CaseFacts, CaseLedger


@dataclass(frozen=True)
class PaymentEnvironment:
    policy: ArrangementPolicy
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()


@dataclass(frozen=True)
class PaymentReference:
    """The idempotency key of a payment: the payer's external reference and what it was first used for."""

    external_reference: str
    payment_id: str
    case_id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class CaseRecord:
    """What the service keeps of a case: its facts, and who it is assigned to (kind, id)."""

    facts: CaseFacts
    assignee: tuple[str, str] | None = None


class PaymentUnitOfWork(TimerPort, Protocol):
    """Everything one command touches, in one transaction."""

    ledgers: Repository[CaseLedger]
    tx: Any

    # --- the payment references (idempotency) --------------------------------------------------

    async def claim_reference(self, reference: PaymentReference) -> PaymentReference | None:
        """Claim the reference for a new payment: None when claimed, else the earlier claim
        (concurrent claims of one reference: one wins, the others see its claim)."""
        ...

    async def reference_of_payment(self, payment_id: str) -> PaymentReference | None: ...

    # --- what the service knows of each case (from collections.cases) --------------------------

    async def case_facts(self, case_id: str) -> CaseFacts | None: ...

    async def erase_statement_lines(self, case_id: str) -> None:
        """Remove the lines of the case's income and expenditure statements from its stored events and
        read rows (the debtor's personal data erased); the totals stay."""
        ...

    async def lock_cases(self, case_ids: Sequence[str]) -> None:
        """Serialise, until the transaction ends, the commands that decide from a case's facts whether a
        payment is held (a payment arriving as its case is first seen must not be held forever)."""
        ...

    async def case_records(self, case_ids: Sequence[str]) -> dict[str, CaseRecord]:
        """The facts and assignee of the known cases among `case_ids`, by id, in one read."""
        ...

    async def save_case_records(self, records: Sequence[CaseRecord], at: datetime) -> None:
        """Write each record whole (insert or replace), in one statement."""
        ...

    async def record_case_opened(self, facts: CaseFacts, at: datetime) -> None:
        """Insert or replace the case's facts (a repeated CaseOpened overwrites them)."""
        ...

    async def record_case_balance(self, case_id: str, balance_minor: int, at: datetime) -> None: ...

    async def record_case_closed(self, case_id: str, final_balance_minor: int, at: datetime) -> None: ...

    async def record_case_assignment(
        self, case_id: str, assignee_kind: str, assignee_id: str, at: datetime
    ) -> None: ...

    # --- read models and timers ----------------------------------------------------------------

    async def project(self, ledger: CaseLedger, time_zone: str) -> None:
        """Write the read-model rows the ledger's latest events touched (deadlines in `time_zone`)."""
        ...


PaymentBus = CommandBus[PaymentUnitOfWork, PaymentEnvironment]
