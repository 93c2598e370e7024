"""The contact service's unit of work on PostgreSQL: the case contact streams over the event store, and
the read models and the per-debtor advisory lock of the same transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contact_service.adapters import projections as rm
from contact_service.application.ports import (
    CaseRow,
    ContactReads,
    ContactRecord,
    ContactRow,
    MessageRecord,
    PermitRecord,
    PromiseRecord,
    ReadModels,
)
from contact_service.domain.contacts import CaseContacts
from contact_service.domain.staff import StaffEntry
from dcp_compliance import CaseFacts, ContactHistoryEntry
from dcp_events.catalogue.enums import Channel
from dcp_platform.eventsourcing.repository import Repository
from dcp_platform.eventsourcing.store import EventStore
from dcp_platform.eventsourcing.timer_ports import PostgresTimers


@dataclass
class PostgresContactReads:
    """The read models on one connection."""

    tx: AsyncConnection

    async def case(self, case_id: str, *, for_update: bool = False) -> CaseRow | None:
        return await rm.load_case(self.tx, case_id, for_update=for_update)

    async def cases_assigned_to(self, kinds_ids: Sequence[tuple[str, str]]) -> list[CaseRow]:
        return await rm.cases_assigned_to(self.tx, kinds_ids)

    async def staff_member(self, staff_id: str) -> StaffEntry | None:
        return await rm.staff_member(self.tx, staff_id)

    async def history(
        self, debtor_id: str, since: datetime, third_party_point: str | None = None
    ) -> list[ContactHistoryEntry]:
        return await rm.history(self.tx, debtor_id, since, third_party_point)

    async def find_contact(self, attempt_id: str) -> ContactRow | None:
        return await rm.find_contact(self.tx, attempt_id)

    async def contacts_of_case(self, case_id: str, limit: int) -> list[ContactRow]:
        return await rm.contacts_of_case(self.tx, case_id, limit)

    async def find_permit(self, permit_id: str) -> PermitRecord | None:
        return await rm.find_permit(self.tx, permit_id)

    async def find_message(self, channel: Channel, provider_reference: str) -> MessageRecord | None:
        return await rm.find_message(self.tx, channel, provider_reference)

    async def find_message_of_attempt(self, attempt_id: str) -> MessageRecord | None:
        return await rm.find_message_of_attempt(self.tx, attempt_id)

    async def message_counts(self) -> dict[tuple[str, str], int]:
        return await rm.message_counts(self.tx)

    async def cases_reached_at(self, contact_point: str) -> list[CaseRow]:
        return await rm.cases_reached_at(self.tx, contact_point)

    async def messages_of_case(self, case_id: str) -> list[MessageRecord]:
        return await rm.messages_of_case(self.tx, case_id)

    async def recent_contacts_of_case(self, case_id: str, since: datetime) -> list[tuple[datetime, Channel]]:
        return await rm.recent_contacts_of_case(self.tx, case_id, since)

    async def promises_of_case(self, case_id: str) -> list[tuple[date, str]]:
        return await rm.promises_of_case(self.tx, case_id)


@dataclass
class PostgresContactUnitOfWork(PostgresTimers, PostgresContactReads):
    contacts: Repository[CaseContacts]
    _after_commit: list[Callable[[], None]] = field(default_factory=list, init=False)

    async def record_staff_member(self, entry: StaffEntry, at: datetime) -> None:
        await rm.record_staff_member(self.tx, entry, at)

    async def lock_debtor(self, debtor_id: str) -> None:
        await rm.lock_debtor(self.tx, debtor_id)

    async def lock_debtors(self, debtor_ids: Sequence[str]) -> None:
        await rm.lock_debtors(self.tx, debtor_ids)

    async def cases(self, case_ids: Sequence[str], *, for_update: bool = False) -> dict[str, CaseRow]:
        return await rm.load_cases(self.tx, case_ids, for_update=for_update)

    async def save_cases(self, new: Sequence[CaseRow], changed: Sequence[CaseRow]) -> None:
        await rm.save_cases(self.tx, new, changed)

    async def open_cases_of_debtor(self, debtor_id: str) -> list[str]:
        return await rm.open_cases_of_debtor(self.tx, debtor_id)

    async def insert_case(
        self, facts: CaseFacts, currency: str, balance_minor: int, risk_score: int | None
    ) -> None:
        await rm.insert_case(self.tx, facts, currency, balance_minor, risk_score)

    async def update_case(self, case_id: str, changes: Mapping[str, Any]) -> None:
        await rm.update_case(self.tx, case_id, **changes)

    async def record_contact(self, record: ContactRecord) -> None:
        await rm.record_contact(self.tx, record.row())

    async def insert_promise(self, record: PromiseRecord) -> None:
        await rm.insert_promise(self.tx, record)

    async def insert_permit(self, record: PermitRecord) -> None:
        await rm.insert_permit(self.tx, record)

    async def close_permit(
        self, permit_id: str, status: str, attempt_id: str | None = None, at: datetime | None = None
    ) -> None:
        await rm.close_permit(self.tx, permit_id, status, attempt_id, at)

    async def record_message(self, record: MessageRecord) -> None:
        await rm.record_message(self.tx, record)

    async def park_report(self, attempt_id: str, case_id: str, report: dict[str, Any], at: datetime) -> None:
        await rm.park_report(self.tx, attempt_id, case_id, report, at)

    async def take_parked_reports(self, case_ids: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
        return await rm.take_parked_reports(self.tx, case_ids)

    async def set_promise_status(self, promise_id: str, status: str) -> None:
        await rm.set_promise_status(self.tx, promise_id, status)

    async def erase_contact_points(self, case_id: str) -> None:
        await rm.erase_contact_points(self.tx, case_id)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def committed(self) -> None:
        for callback in self._after_commit:
            callback()


def unit_of_work_factory(
    store: EventStore, repository: Repository[CaseContacts], wake: Callable[[], None] | None = None
) -> Callable[[AsyncConnection | None], AbstractAsyncContextManager[PostgresContactUnitOfWork]]:
    """`factory(tx)`: a unit of work in the caller's transaction, or in a new one. A new one that
    appended events wakes the outbox relay (`wake`) once it has committed; one that appended nothing
    (a dry-run check) leaves the relay asleep: waking it on every check costs the gate about half a
    millisecond (benchmarks/bench_gate.py)."""
    appended: set[AsyncConnection] = set()

    async def note_append(
        tx: AsyncConnection, _contacts: CaseContacts, _changes: Sequence[Any], recorded: Sequence[Any]
    ) -> None:
        if recorded:
            appended.add(tx)

    repository.add_projection(note_append)

    @asynccontextmanager
    async def begin(tx: AsyncConnection | None) -> AsyncIterator[PostgresContactUnitOfWork]:
        if tx is not None:
            uow = PostgresContactUnitOfWork(tx, repository)
            yield uow
            uow.committed()  # the caller commits its transaction (a consumer's batch)
            return
        own: AsyncConnection | None = None
        try:
            async with store.engine.begin() as own:
                uow = PostgresContactUnitOfWork(own, repository)
                yield uow
        finally:
            woken = own is not None and own in appended
            if own is not None:
                appended.discard(own)
        if woken and wake is not None:
            wake()
        uow.committed()

    return begin


def read_models(engine: AsyncEngine) -> ReadModels:
    """`reading()`: the read models on a connection of their own (no transaction is committed)."""

    @asynccontextmanager
    async def reading() -> AsyncIterator[ContactReads]:
        async with engine.connect() as conn:
            yield PostgresContactReads(conn)

    return reading
