"""The contact service's unit of work in memory, for the fast application tests: the case contact
streams over the in-memory event store (which passes the platform's store contract), and dicts for
the read models. Everything a unit of work writes commits with its transaction, or not at all."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from contact_service.application.handlers import COMMAND_HANDLERS
from contact_service.application.ports import (
    CaseRow,
    ContactBus,
    ContactEnvironment,
    ContactReads,
    ContactRecord,
    ContactRow,
    MessageRecord,
    PermitRecord,
    PromiseRecord,
    contacts_repository,
)
from contact_service.domain.contacts import CaseContacts
from contact_service.domain.staff import StaffEntry
from dcp_compliance import CaseFacts, ContactHistoryEntry, ContactPurpose
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty
from dcp_platform.application import CommandBus
from dcp_platform.eventsourcing.memory import InMemoryEventStore, MemoryTransaction
from dcp_platform.eventsourcing.repository import Repository
from dcp_platform.eventsourcing.timer_ports import MemoryTimerBook, MemoryTimers
from dcp_platform.eventsourcing.timers import DueTimer

_BOOKS = "contact_books"


@dataclass
class ContactBooks:
    """The read models (committed state): the case rows, the contact rows by attempt id (in the order
    recorded), the promise rows by promise id."""

    cases: dict[str, CaseRow] = field(default_factory=dict)
    contacts: dict[str, ContactRow] = field(default_factory=dict)
    promises: dict[str, dict[str, Any]] = field(default_factory=dict)
    permits: dict[str, PermitRecord] = field(default_factory=dict)
    messages: dict[str, MessageRecord] = field(default_factory=dict)
    timers: MemoryTimerBook = field(default_factory=dict)
    parked: dict[str, tuple[str, dict[str, Any]]] = field(
        default_factory=dict
    )  # attempt id -> (case, report)
    staff: dict[str, StaffEntry] = field(default_factory=dict)

    def copy(self) -> ContactBooks:
        return ContactBooks(
            dict(self.cases),
            {k: dict(v) for k, v in self.contacts.items()},
            {k: dict(v) for k, v in self.promises.items()},
            dict(self.permits),
            dict(self.messages),
            dict(self.timers),
            dict(self.parked),
            dict(self.staff),
        )


def _books(tx: MemoryTransaction) -> ContactBooks:
    books = tx.state.get(_BOOKS)
    if not isinstance(books, ContactBooks):
        raise RuntimeError("not a contact-service transaction")
    return books


def _reservation(permit: PermitRecord) -> ContactHistoryEntry:
    third = permit.party is ContactParty.THIRD_PARTY
    return ContactHistoryEntry.model_construct(
        attempt_id=permit.permit_id,
        case_id=permit.case_id,
        debtor_id=permit.debtor_id,
        at=permit.issued_at,
        channel=permit.channel,
        party=permit.party,
        outcome=ContactOutcome.THIRD_PARTY_CONTACT if third else ContactOutcome.RIGHT_PARTY_CONTACT,
        collector_id=permit.collector_id,
        agency_id=permit.agency_id,
        contact_point=permit.contact_point,
        purpose=permit.purpose,
    )


def _history_entry(row: ContactRow) -> ContactHistoryEntry:
    return ContactHistoryEntry.model_construct(
        attempt_id=row["attempt_id"],
        case_id=row["case_id"],
        debtor_id=row["debtor_id"],
        at=row["at"],
        channel=Channel(row["channel"]),
        party=ContactParty(row["party"]),
        outcome=ContactOutcome(row["outcome"]),
        collector_id=row["collector_id"],
        agency_id=row["agency_id"],
        contact_point=row["contact_point"],
        purpose=ContactPurpose(row["purpose"]),
    )


@dataclass
class InMemoryContactReads:
    """The read models as the SQL of `adapters/projections.py` reads them."""

    books: ContactBooks

    async def case(self, case_id: str, *, for_update: bool = False) -> CaseRow | None:
        return self.books.cases.get(case_id)

    async def cases_assigned_to(self, kinds_ids: Sequence[tuple[str, str]]) -> list[CaseRow]:
        return [
            case
            for kind, ident in kinds_ids
            for case in self.books.cases.values()
            if case.assignee_kind == kind and case.assignee_id == ident and case.status == "open"
        ]

    async def history(
        self, debtor_id: str, since: datetime, third_party_point: str | None = None
    ) -> list[ContactHistoryEntry]:
        point = third_party_point or ""
        made = [
            _history_entry(row)
            for row in self.books.contacts.values()
            if row["decision"] == "allow"
            and row["debtor_id"] == debtor_id
            and (
                row["at"] >= since
                or (row["party"] == ContactParty.THIRD_PARTY.value and row["contact_point"] == point)
            )
        ]
        reserved = [
            _reservation(p)
            for p in self.books.permits.values()
            if p.status == "issued"
            and p.debtor_id == debtor_id
            and (p.issued_at >= since or (p.party is ContactParty.THIRD_PARTY and p.contact_point == point))
        ]
        return made + reserved

    async def find_contact(self, attempt_id: str) -> ContactRow | None:
        row = self.books.contacts.get(attempt_id)
        return dict(row) if row is not None else None

    async def find_permit(self, permit_id: str) -> PermitRecord | None:
        return self.books.permits.get(permit_id)

    async def staff_member(self, staff_id: str) -> StaffEntry | None:
        return self.books.staff.get(staff_id)

    async def find_message(self, channel: Channel, provider_reference: str) -> MessageRecord | None:
        return next(
            (
                m
                for m in self.books.messages.values()
                if m.channel is channel and m.provider_reference == provider_reference
            ),
            None,
        )

    async def cases_reached_at(self, contact_point: str) -> list[CaseRow]:
        return sorted(
            (
                c
                for c in self.books.cases.values()
                if c.status == "open" and any(p.value == contact_point for p in c.facts.contact_points)
            ),
            key=lambda c: c.case_id,
        )

    async def messages_of_case(self, case_id: str) -> list[MessageRecord]:
        found = sorted(
            (m for m in self.books.messages.values() if m.case_id == case_id), key=lambda m: m.attempt_id
        )
        return sorted(found, key=lambda m: m.sent_at, reverse=True)

    async def find_message_of_attempt(self, attempt_id: str) -> MessageRecord | None:
        return self.books.messages.get(attempt_id)

    async def message_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for m in self.books.messages.values():
            counts[(m.channel.value, m.status)] = counts.get((m.channel.value, m.status), 0) + 1
        return counts

    async def contacts_of_case(self, case_id: str, limit: int) -> list[ContactRow]:
        rows = sorted(
            (r for r in self.books.contacts.values() if r["case_id"] == case_id),
            key=lambda r: r["attempt_id"],
        )
        rows.sort(key=lambda r: r["at"], reverse=True)  # stable: newest first, then by attempt id
        return [dict(r) for r in rows[:limit]]

    async def recent_contacts_of_case(self, case_id: str, since: datetime) -> list[tuple[datetime, Channel]]:
        return [
            (r["at"], Channel(r["channel"]))
            for r in self.books.contacts.values()
            if r["case_id"] == case_id and r["decision"] == "allow" and r["at"] >= since
        ]

    async def promises_of_case(self, case_id: str) -> list[tuple[date, str]]:
        return [(p["due_on"], p["status"]) for p in self.books.promises.values() if p["case_id"] == case_id]


@dataclass
class InMemoryContactUnitOfWork(MemoryTimers, InMemoryContactReads):
    contacts: Repository[CaseContacts]
    tx: MemoryTransaction
    _after_commit: list[Callable[[], None]] = field(default_factory=list, init=False)

    @property
    def timer_book(self) -> MemoryTimerBook:
        return self.books.timers

    async def insert_permit(self, record: PermitRecord) -> None:
        if record.permit_id in self.books.permits:
            raise ValueError(f"permit {record.permit_id} is already recorded")  # the table's primary key
        self.books.permits[record.permit_id] = record

    async def close_permit(
        self, permit_id: str, status: str, attempt_id: str | None = None, at: datetime | None = None
    ) -> None:
        permit = self.books.permits.get(permit_id)
        if permit is not None and permit.status == "issued":
            self.books.permits[permit_id] = dataclasses.replace(
                permit,
                status=status,
                attempt_id=attempt_id or permit.attempt_id,
                used_at=at or permit.used_at,
            )

    async def park_report(self, attempt_id: str, case_id: str, report: dict[str, Any], at: datetime) -> None:
        self.books.parked.setdefault(attempt_id, (case_id, report))

    async def take_parked_reports(self, case_ids: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
        wanted = set(case_ids)
        taken = [(k, v) for k, v in self.books.parked.items() if v[0] in wanted]
        for key, _ in taken:
            del self.books.parked[key]
        return [v for _, v in taken]

    async def record_message(self, record: MessageRecord) -> None:
        earlier = self.books.messages.get(record.attempt_id)
        if earlier is not None:  # as the SQL upsert: a channel's report outlives a later hand-over record
            reported = earlier.status not in ("sending", "sent", "unsent")
            keep = reported and record.status in ("sending", "sent")
            record = dataclasses.replace(
                record,
                sent_at=earlier.sent_at,
                provider_reference=record.provider_reference or earlier.provider_reference,
                content_sha256=record.content_sha256 or earlier.content_sha256,
                status=earlier.status if keep else record.status,
                detail=earlier.detail if keep else record.detail,
            )
        self.books.messages[record.attempt_id] = record

    async def lock_debtor(self, debtor_id: str) -> None:
        # Nothing left to serialise: the in-memory transactions run one at a time (see
        # `InMemoryContactService`), which is stronger than PostgreSQL's per-debtor advisory lock.
        return None

    async def lock_debtors(self, debtor_ids: Sequence[str]) -> None:
        return None  # as lock_debtor

    async def cases(self, case_ids: Sequence[str], *, for_update: bool = False) -> dict[str, CaseRow]:
        return {i: self.books.cases[i] for i in case_ids if i in self.books.cases}

    async def save_cases(self, new: Sequence[CaseRow], changed: Sequence[CaseRow]) -> None:
        for case in new:
            self.books.cases.setdefault(case.case_id, case)
        for case in changed:
            if case.case_id in self.books.cases:
                self.books.cases[case.case_id] = case

    async def open_cases_of_debtor(self, debtor_id: str) -> list[str]:
        return sorted(
            c.case_id for c in self.books.cases.values() if c.debtor_id == debtor_id and c.status == "open"
        )

    async def insert_case(
        self, facts: CaseFacts, currency: str, balance_minor: int, risk_score: int | None
    ) -> None:
        self.books.cases.setdefault(
            facts.case_id,
            CaseRow(
                case_id=facts.case_id,
                debtor_id=facts.debtor_id,
                jurisdiction=facts.jurisdiction,
                status="open",
                assignee_kind=None,
                assignee_id=None,
                currency=currency,
                balance_minor=balance_minor,
                risk_score=risk_score,
                strategy_assigned_at=None,
                treatment=[],
                facts=facts,
            ),
        )

    async def update_case(self, case_id: str, changes: Mapping[str, Any]) -> None:
        case = self.books.cases.get(case_id)
        if case is not None:
            self.books.cases[case_id] = dataclasses.replace(case, **changes)

    async def record_contact(self, record: ContactRecord) -> None:
        if record.attempt_id in self.books.contacts:
            raise ValueError(f"attempt {record.attempt_id} is already recorded")  # the table's primary key
        self.books.contacts[record.attempt_id] = record.row()

    async def record_staff_member(self, entry: StaffEntry, at: datetime) -> None:
        self.books.staff[entry.staff_id] = entry

    async def insert_promise(self, record: PromiseRecord) -> None:
        if record.promise_id in self.books.promises:
            raise ValueError(f"promise {record.promise_id} is already recorded")  # the table's primary key
        self.books.promises[record.promise_id] = {**asdict(record), "status": "open"}

    async def set_promise_status(self, promise_id: str, status: str) -> None:
        promise = self.books.promises.get(promise_id)
        if promise is not None:
            promise["status"] = status

    async def erase_contact_points(self, case_id: str) -> None:
        for row in self.books.contacts.values():
            if row["case_id"] == case_id:
                row["contact_point"] = None

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def committed(self) -> None:
        for callback in self._after_commit:
            callback()


@dataclass
class InMemoryContactService:
    """The contact service's handlers on the in-memory store: a bus, the store and the books.

    Its transactions run one at a time: each takes the books as committed, and its commit replaces
    them whole, so two at once would lose one's writes; in one at a time, the per-debtor lock of the
    handlers has nothing left to serialise."""

    env: ContactEnvironment
    store: InMemoryEventStore = field(default_factory=InMemoryEventStore)

    def __post_init__(self) -> None:
        self.store.committed_state[_BOOKS] = ContactBooks()
        self.repository: Repository[CaseContacts] = contacts_repository(self.store, self.env.clock)
        self.bus: ContactBus = CommandBus(COMMAND_HANDLERS, self._unit_of_work, self.env)
        self._serial = asyncio.Lock()

    @property
    def books(self) -> ContactBooks:
        books = self.store.committed_state[_BOOKS]
        assert isinstance(books, ContactBooks)
        return books

    @asynccontextmanager
    async def _unit_of_work(self, tx: MemoryTransaction | None) -> AsyncIterator[InMemoryContactUnitOfWork]:
        if tx is not None:
            uow = InMemoryContactUnitOfWork(_books(tx), self.repository, tx)
            yield uow
            uow.committed()  # the caller commits its transaction
            return
        async with self._serial:
            async with self.store.transaction() as own:
                own.state[_BOOKS] = _books(own).copy()  # the transaction's own copy: commits or not
                uow = InMemoryContactUnitOfWork(_books(own), self.repository, own)
                yield uow
            uow.committed()

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[ContactReads]:
        """The read models as committed now."""
        yield InMemoryContactReads(self.books)

    async def handle(self, command: object) -> Any:
        return await self.bus.handle(command)

    async def fire_due_timers(
        self, handlers: Mapping[str, Callable[[Any, DueTimer], Awaitable[None]]]
    ) -> list[tuple[str, str]]:
        """Run the timers due by the clock, earliest first, each in a transaction of its own (the
        in-memory twin of the platform's timer worker); the (kind, key) fired."""
        now = self.env.now()
        due = sorted((d, kind, key) for (kind, key), (d, _) in self.books.timers.items() if d <= now)
        fired: list[tuple[str, str]] = []
        for n, (due_at, kind, key) in enumerate(due, start=1):
            payload = self.books.timers[(kind, key)][1]
            async with self._serial, self.store.transaction() as tx:
                tx.state[_BOOKS] = _books(tx).copy()
                await handlers[kind](tx, DueTimer(n, kind, key, due_at, payload, attempts=0))
                timers = _books(tx).timers
                if timers.get((kind, key), (None,))[0] == due_at:
                    del timers[(kind, key)]
            fired.append((kind, key))
        return fired
