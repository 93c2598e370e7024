"""The payment service's unit of work on PostgreSQL: the ledger repository over the event store, and
the case facts, payment references, read models and timers of the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.application import UnitOfWorkFactory, in_transaction
from dcp_platform.eventsourcing import schema as es
from dcp_platform.eventsourcing.repository import Repository
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.eventsourcing.timer_ports import PostgresTimers
from payment_service.adapters import case_facts, projections, references
from payment_service.application.ports import CaseRecord, PaymentEnvironment, PaymentReference
from payment_service.domain import affordability
from payment_service.domain.ledger import CaseFacts, CaseLedger


@dataclass
class PostgresPaymentUnitOfWork(PostgresTimers):
    ledgers: Repository[CaseLedger]
    tx: AsyncConnection
    env: PaymentEnvironment

    async def claim_reference(self, reference: PaymentReference) -> PaymentReference | None:
        return await references.claim(self.tx, reference)

    async def reference_of_payment(self, payment_id: str) -> PaymentReference | None:
        return await references.find_by_payment(self.tx, payment_id)

    async def case_facts(self, case_id: str) -> CaseFacts | None:
        return await case_facts.get(self.tx, case_id)

    async def erase_statement_lines(self, case_id: str) -> None:
        stream = CaseLedger.stream_id_for(case_id)
        rows = await self.tx.execute(
            select(es.events.c.position, es.events.c.payload).where(es.events.c.stream_id == stream)
        )
        for position, payload in rows.all():
            erased = affordability.erased_statement(payload)
            if erased is not None:
                await self.tx.execute(
                    update(es.events).where(es.events.c.position == position).values(payload=erased)
                )
        await projections.erase_statement_lines(self.tx, case_id)

    async def lock_cases(self, case_ids: Sequence[str]) -> None:
        await case_facts.lock(self.tx, case_ids)

    async def case_records(self, case_ids: Sequence[str]) -> dict[str, CaseRecord]:
        return await case_facts.records(self.tx, case_ids)

    async def save_case_records(self, records: Sequence[CaseRecord], at: datetime) -> None:
        await case_facts.save_records(self.tx, records, at)

    async def record_case_opened(self, facts: CaseFacts, at: datetime) -> None:
        await case_facts.record_opened(self.tx, facts, at)

    async def record_case_balance(self, case_id: str, balance_minor: int, at: datetime) -> None:
        await case_facts.record_balance(self.tx, case_id, balance_minor, at)

    async def record_case_closed(self, case_id: str, final_balance_minor: int, at: datetime) -> None:
        await case_facts.record_closed(self.tx, case_id, final_balance_minor, at)

    async def record_case_assignment(
        self, case_id: str, assignee_kind: str, assignee_id: str, at: datetime
    ) -> None:
        await case_facts.record_assigned(self.tx, case_id, assignee_kind, assignee_id, at)

    async def project(self, ledger: CaseLedger, time_zone: str) -> None:
        await projections.save(self.tx, ledger, self.env.policy, time_zone)


def unit_of_work_factory(
    store: EventStore, repository: Repository[CaseLedger], env: PaymentEnvironment
) -> UnitOfWorkFactory[PostgresPaymentUnitOfWork]:
    """`factory(tx)`: a unit of work in the caller's transaction (a consumer batch, a timer), or in a
    new one, whose commit wakes the outbox relay (the store's `on_commit`) so events publish at once."""
    return in_transaction(store, lambda tx: PostgresPaymentUnitOfWork(repository, tx, env))
