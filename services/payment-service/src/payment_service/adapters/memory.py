"""The payment service's unit of work in memory, for the fast application tests: the ledger
repository over the in-memory event store (which passes the platform's store contract), and dicts
for the case facts, payment references, read models and timers. Everything a unit of work writes
commits with its transaction, or not at all.

A transaction works on its own copy of the books and its commit puts that copy in place, so two
transactions open at once would lose the first one's writes, and the second claim of a payment
reference would not see the first. So the service's units of work (and its timer transactions) run
one at a time, in the order they start. On PostgreSQL the second one waits only on the key or row it
shares with the first, but it ends the same way: both keep their writes, and the later claim of a
reference gets the earlier one back. Both adapters pass `unit_of_work_contract.py`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dcp_platform.application import CommandBus
from dcp_platform.eventsourcing.memory import InMemoryEventStore, MemoryTransaction
from dcp_platform.eventsourcing.repository import Repository
from dcp_platform.eventsourcing.timer_ports import MemoryTimerBook, MemoryTimers
from dcp_platform.eventsourcing.timers import DueTimer
from payment_service.adapters import projections
from payment_service.adapters.ledgers import ledger_repository
from payment_service.application.ports import CaseRecord, PaymentBus, PaymentEnvironment, PaymentReference
from payment_service.domain import affordability
from payment_service.domain.ledger import CaseFacts, CaseLedger

_BOOKS = "payment_books"

MemoryTimerHandler = Callable[[Any, DueTimer], Awaitable[None]]
"""A timer handler run in a `MemoryTransaction` (the consumers' timer handlers, which pass it on)."""


@dataclass
class PaymentBooks:
    """The case facts, references, read models and timers (committed state)."""

    case_facts: dict[str, CaseFacts] = field(default_factory=dict)
    assignees: dict[str, tuple[str, str]] = field(default_factory=dict)  # case id -> (kind, id)
    references: dict[str, PaymentReference] = field(default_factory=dict)  # by external reference
    # Read-model rows by table name, then by primary key: the same rows PostgreSQL keeps.
    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    timers: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = field(default_factory=dict)

    def copy(self) -> PaymentBooks:
        return PaymentBooks(
            dict(self.case_facts),
            dict(self.assignees),
            dict(self.references),
            {table: dict(by_key) for table, by_key in self.rows.items()},
            dict(self.timers),
        )

    def row(self, table: str, key: str) -> dict[str, Any] | None:
        return self.rows.get(table, {}).get(key)

    @property
    def payments(self) -> dict[str, dict[str, Any]]:
        return self.rows.get("payments", {})

    @property
    def promises(self) -> dict[str, dict[str, Any]]:
        return self.rows.get("promises", {})

    @property
    def plans(self) -> dict[str, dict[str, Any]]:
        return self.rows.get("payment_plans", {})

    @property
    def settlements(self) -> dict[str, dict[str, Any]]:
        return self.rows.get("settlements", {})


def _books(tx: MemoryTransaction) -> PaymentBooks:
    books = tx.state.get(_BOOKS)
    if not isinstance(books, PaymentBooks):
        raise RuntimeError("not a payment-service transaction")
    return books


@dataclass
class InMemoryPaymentUnitOfWork(MemoryTimers):
    ledgers: Repository[CaseLedger]
    tx: MemoryTransaction
    env: PaymentEnvironment

    @property
    def books(self) -> PaymentBooks:
        return _books(self.tx)

    @property
    def timer_book(self) -> MemoryTimerBook:
        return self.books.timers

    async def claim_reference(self, reference: PaymentReference) -> PaymentReference | None:
        earlier = self.books.references.get(reference.external_reference)
        if earlier is not None:
            return earlier
        self.books.references[reference.external_reference] = reference
        return None

    async def reference_of_payment(self, payment_id: str) -> PaymentReference | None:
        return next((r for r in self.books.references.values() if r.payment_id == payment_id), None)

    async def case_facts(self, case_id: str) -> CaseFacts | None:
        return self.books.case_facts.get(case_id)

    async def erase_statement_lines(self, case_id: str) -> None:
        store = self.ledgers.store
        assert isinstance(store, InMemoryEventStore)
        store.redact(CaseLedger.stream_id_for(case_id), affordability.erased_statement)
        for row in self.books.rows.get("financial_statements", {}).values():
            if row["case_id"] == case_id:
                row["entries"] = []

    async def lock_cases(self, case_ids: Sequence[str]) -> None:
        """Commands run one at a time here: nothing to serialise."""

    async def case_records(self, case_ids: Sequence[str]) -> dict[str, CaseRecord]:
        books = self.books
        return {
            i: CaseRecord(books.case_facts[i], books.assignees.get(i))
            for i in case_ids
            if i in books.case_facts
        }

    async def save_case_records(self, records: Sequence[CaseRecord], at: datetime) -> None:
        for record in records:
            self.books.case_facts[record.facts.case_id] = record.facts
            if record.assignee is None:
                self.books.assignees.pop(record.facts.case_id, None)
            else:
                self.books.assignees[record.facts.case_id] = record.assignee

    async def record_case_opened(self, facts: CaseFacts, at: datetime) -> None:
        self.books.case_facts[facts.case_id] = facts

    async def record_case_balance(self, case_id: str, balance_minor: int, at: datetime) -> None:
        facts = self.books.case_facts.get(case_id)
        if facts is not None:  # an update of no row, as in PostgreSQL
            self.books.case_facts[case_id] = replace(facts, balance_minor=balance_minor)

    async def record_case_closed(self, case_id: str, final_balance_minor: int, at: datetime) -> None:
        facts = self.books.case_facts.get(case_id)
        if facts is not None:
            self.books.case_facts[case_id] = replace(facts, balance_minor=final_balance_minor, closed=True)

    async def record_case_assignment(
        self, case_id: str, assignee_kind: str, assignee_id: str, at: datetime
    ) -> None:
        if case_id in self.books.case_facts:
            self.books.assignees[case_id] = (assignee_kind, assignee_id)

    async def project(self, ledger: CaseLedger, time_zone: str) -> None:
        for row in projections.rows(ledger, self.env.policy, time_zone):
            self.books.rows.setdefault(row.table.name, {})[row.id] = dict(row.values)
        ledger.touched.clear()


@dataclass
class InMemoryPaymentService:
    """The payment service's handlers on the in-memory store: a bus, the store and the books."""

    env: PaymentEnvironment
    store: InMemoryEventStore = field(default_factory=InMemoryEventStore)

    def __post_init__(self) -> None:
        from payment_service.application.handlers import COMMAND_HANDLERS

        self.store.committed_state[_BOOKS] = PaymentBooks()
        self.repository: Repository[CaseLedger] = ledger_repository(self.store, self.env.clock)
        self.bus: PaymentBus = CommandBus(COMMAND_HANDLERS, self._unit_of_work, self.env)
        self._turn = asyncio.Lock()  # one transaction of the service's own at a time
        self._turn_holder: asyncio.Task[Any] | None = None

    @property
    def books(self) -> PaymentBooks:
        books = self.store.committed_state[_BOOKS]
        assert isinstance(books, PaymentBooks)
        return books

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[MemoryTransaction]:
        """A transaction of the service's own, on a copy of the books, once the one before it has
        committed or rolled back."""
        task = asyncio.current_task()
        if task is not None and task is self._turn_holder:
            raise RuntimeError(
                "a new payment-service transaction inside another one of the same task would wait "
                "for itself: pass the open transaction (tx) instead"
            )
        async with self._turn:
            self._turn_holder = task
            try:
                async with self.store.transaction() as own:
                    own.state[_BOOKS] = self.books.copy()  # the transaction's own copy: commits or not
                    yield own
            finally:
                self._turn_holder = None

    @asynccontextmanager
    async def _unit_of_work(self, tx: MemoryTransaction | None) -> AsyncIterator[InMemoryPaymentUnitOfWork]:
        if tx is not None:
            if tx.state.get(_BOOKS) is self.books:
                tx.state[_BOOKS] = self.books.copy()  # the caller's transaction gets its own copy
            yield InMemoryPaymentUnitOfWork(self.repository, tx, self.env)
            return
        async with self._transaction() as own:
            yield InMemoryPaymentUnitOfWork(self.repository, own, self.env)

    async def handle(self, command: object) -> Any:
        return await self.bus.handle(command)

    async def fire_due_timers(self, handlers: Mapping[str, MemoryTimerHandler]) -> list[tuple[str, str]]:
        """Run the timers due by the clock, earliest first, each in a transaction of its own that also
        marks it fired (the in-memory twin of the platform's timer worker); the (kind, key) fired."""
        now = self.env.now()
        due = sorted(
            (due_at, kind, key) for (kind, key), (due_at, _) in self.books.timers.items() if due_at <= now
        )
        fired: list[tuple[str, str]] = []
        for n, (due_at, kind, key) in enumerate(due, start=1):
            payload = self.books.timers[(kind, key)][1]
            async with self._transaction() as tx:
                await handlers[kind](tx, DueTimer(n, kind, key, due_at, payload, attempts=0))
                timers = _books(tx).timers
                if timers.get((kind, key), (None,))[0] == due_at:  # not rescheduled by its handler
                    del timers[(kind, key)]
            fired.append((kind, key))
        return fired

    async def ledger(self, case_id: str) -> CaseLedger:
        """The case's ledger as committed (a new one before its first event)."""
        return await self.repository.find(case_id) or CaseLedger.new(case_id)
