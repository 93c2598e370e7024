"""The case service's unit of work in memory, for the fast application tests: the case repository
over the in-memory event store (which passes the platform's store contract), and dicts for the read
models, timers and staff directory. Everything a unit of work writes commits with its transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from case_service.adapters import import_records
from case_service.application.commands import CreateImport
from case_service.application.ports import CaseBus, CaseCause, CaseEnvironment, stamped
from case_service.domain.assignment import Candidate, StaffMember
from case_service.domain.case import Case, redacted_payload
from dcp_events.catalogue.cases import CaseEvent
from dcp_events.catalogue.enums import AssigneeKind
from dcp_platform.application import CommandBus
from dcp_platform.eventsourcing.memory import InMemoryEventStore, MemoryTransaction
from dcp_platform.eventsourcing.records import RecordedEvent
from dcp_platform.eventsourcing.repository import Repository
from dcp_platform.eventsourcing.store import ConcurrencyConflict
from dcp_platform.eventsourcing.timer_ports import MemoryTimerBook, MemoryTimers


@dataclass
class CaseBooks:
    """The read models, timers and staff directory (committed state)."""

    cases: dict[str, Case] = field(default_factory=dict)  # the case rows: last saved state
    next_ageing_on: dict[str, date | None] = field(default_factory=dict)  # as of each case's last save
    timers: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = field(default_factory=dict)
    staff: dict[str, StaffMember] = field(default_factory=dict)
    team_cursors: dict[str, str] = field(default_factory=dict)
    promises: dict[str, dict[str, Any]] = field(default_factory=dict)
    activity: dict[str, dict[str, Any]] = field(default_factory=dict)
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def copy(self) -> CaseBooks:
        return CaseBooks(
            dict(self.cases),
            dict(self.next_ageing_on),
            dict(self.timers),
            dict(self.staff),
            dict(self.team_cursors),
            {k: dict(v) for k, v in self.promises.items()},
            dict(self.activity),
            {k: dict(v) for k, v in self.imports.items()},
            list(self.rejections),
            list(self.signals),
            {k: dict(v) for k, v in self.policies.items()},
            {k: dict(v) for k, v in self.contacts.items()},
        )


def _books(tx: MemoryTransaction) -> CaseBooks:
    books = tx.state.get("case_books")
    if not isinstance(books, CaseBooks):
        raise RuntimeError("not a case-service transaction")
    return books


def _project(tx: MemoryTransaction, case: Case, env: CaseEnvironment) -> None:
    books = _books(tx)
    books.cases[case.case_id] = case
    books.next_ageing_on[case.case_id] = case.next_ageing_on(env.today(), env.policy)


@dataclass
class InMemoryCaseUnitOfWork(MemoryTimers):
    cases: Repository[Case]
    tx: MemoryTransaction
    env: CaseEnvironment

    @property
    def books(self) -> CaseBooks:
        return _books(self.tx)

    @property
    def timer_book(self) -> MemoryTimerBook:
        return self.books.timers

    async def open_new(self, cases: Sequence[Case], cause: CaseCause | None = None) -> list[Case]:
        opened: list[Case] = []
        for case in cases:
            try:
                await self.cases.store.append(case.case_id, 0, stamped(self.cases, case, cause), conn=self.tx)
            except ConcurrencyConflict:
                continue
            case.version = len(case.pull_changes())
            opened.append(case)
        return opened

    async def save_together(self, cases: Sequence[Case]) -> list[tuple[Case, list[CaseEvent]]]:
        saved = []
        for case in cases:
            changes = list(case.pending)
            if changes:
                await self.cases.save(case, self.tx)
                saved.append((case, changes))
        return saved

    async def project(self, changed: Sequence[tuple[Case, Sequence[CaseEvent]]]) -> None:
        for case, _ in changed:
            _project(self.tx, case, self.env)

    async def existing_case_ids(self, case_ids: Sequence[str]) -> set[str]:
        return {c for c in case_ids if c in self.books.cases}

    async def case_ids_of_debtor(self, debtor_id: str) -> list[str]:
        return sorted(
            case_id
            for case_id, case in self.books.cases.items()
            if case.debtor is not None and case.debtor.debtor_id == debtor_id
        )

    async def redact_stored_events(self, case_id: str) -> None:
        store = self.cases.store
        assert isinstance(store, InMemoryEventStore)
        store.redact(case_id, redacted_payload)

    async def keep_ageing_dates(self, cases: Sequence[Case]) -> None:
        books = _books(self.tx)
        for case in cases:
            stored = books.cases.get(case.case_id)
            if stored is not None and stored.version == case.version:
                books.next_ageing_on[case.case_id] = case.next_ageing_on(self.env.today(), self.env.policy)

    async def case_ids_needing_ageing(self, today: date, limit: int) -> list[str]:
        due = [
            (on, case_id)
            for case_id, on in self.books.next_ageing_on.items()
            if on is not None and on <= today
        ]
        return [case_id for _, case_id in sorted(due)[:limit]]

    async def open_case_ids_of_products(
        self, products: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        ids = sorted(
            case_id
            for case_id, case in self.books.cases.items()
            if case.is_open
            and case.account is not None
            and case.account.product in products
            and (after is None or case_id > after)
        )
        return ids[:limit]

    async def candidates(self, kind: AssigneeKind | None = None) -> list[Candidate]:
        loads: dict[str, int] = {}
        for case in self.books.cases.values():
            if case.is_open and case.assignee is not None:
                loads[case.assignee.id] = loads.get(case.assignee.id, 0) + 1
        return [
            Candidate(member, loads.get(member.id, 0))
            for member in self.books.staff.values()
            if member.active and (kind is None or member.kind is kind)
        ]

    async def open_case_ids_assigned_to(self, kind: AssigneeKind, assignee_id: str, limit: int) -> list[str]:
        return sorted(
            case.case_id
            for case in self.books.cases.values()
            if case.is_open
            and case.assignee is not None
            and (case.assignee.kind, case.assignee.id) == (kind, assignee_id)
        )[:limit]

    async def upsert_member(self, member: StaffMember, now: datetime) -> None:
        self.books.staff[member.id] = member

    async def team_cursor(self, team: str) -> str | None:
        return self.books.team_cursors.get(team)

    async def move_team_cursor(self, team: str, last: str) -> None:
        self.books.team_cursors[team] = last

    async def promise_made(
        self, promise_id: str, case_id: str, collector_id: str | None, at: datetime
    ) -> None:
        row = self.books.promises.setdefault(promise_id, {"case_id": case_id, "status": "open"})
        row.update(collector_id=collector_id, made_at=at)

    async def promise_settled(self, promise_id: str, case_id: str, status: str, at: datetime) -> None:
        row = self.books.promises.setdefault(
            promise_id, {"case_id": case_id, "collector_id": None, "made_at": at}
        )
        row["status"] = status

    async def collector_activity(
        self, event_id: str, collector_id: str, case_id: str, kind: str, at: datetime
    ) -> None:
        self.books.activity.setdefault(
            event_id, {"collector_id": collector_id, "case_id": case_id, "kind": kind, "at": at}
        )

    async def contact_outcome(
        self, event_id: str, case_id: str, channel: str, right_party: bool, at: datetime
    ) -> None:
        self.books.contacts.setdefault(
            event_id, {"case_id": case_id, "channel": channel, "right_party": right_party, "at": at}
        )

    async def case_signal(self, case_id: str, kind: str, at: datetime) -> None:
        self.books.signals.append({"case_id": case_id, "kind": kind, "at": at})

    async def policy_versions(self, name: str) -> list[dict[str, Any]]:
        return [dict(row) for (n, _), row in sorted(self.books.policies.items()) if n == name]

    async def policy_version(self, name: str, version: int) -> dict[str, Any] | None:
        row = self.books.policies.get((name, version))
        return None if row is None else dict(row)

    async def insert_policy_version(self, row: Mapping[str, Any]) -> None:
        key = (str(row["name"]), int(row["version"]))
        if key in self.books.policies:
            raise ConcurrencyConflict(f"policy-{key[0]}", key[1])
        self.books.policies[key] = dict(row)

    async def update_policy_version(self, name: str, version: int, values: Mapping[str, Any]) -> None:
        self.books.policies[(name, version)] = {**self.books.policies[(name, version)], **values}

    async def outcome_history(self, now: datetime, horizon_days: int) -> None:
        """The outcome history is read from the PostgreSQL KPI read models only."""
        return None

    async def policy_simulation(self, simulation_id: str) -> dict[str, Any] | None:
        """Simulations run on the PostgreSQL case rows only."""
        return None

    def experiment_book(self) -> None:
        """Experiments are judged on the KPI read models, which only the PostgreSQL books keep."""
        return None

    async def insert_import(self, record: CreateImport, created_at: datetime) -> None:
        self.books.imports[record.import_id] = import_records.new_import_row(record, created_at)

    async def update_import(self, import_id: str, values: Mapping[str, Any]) -> None:
        self.books.imports[import_id].update(values)

    async def insert_rejections(self, rejections: Sequence[Mapping[str, Any]]) -> None:
        self.books.rejections.extend(dict(r) for r in rejections)


@dataclass
class InMemoryCaseService:
    """The case service's handlers on the in-memory store: a bus, the store and the books."""

    env: CaseEnvironment
    store: InMemoryEventStore = field(default_factory=InMemoryEventStore)

    def __post_init__(self) -> None:
        from case_service.application.handlers import COMMAND_HANDLERS

        self.store.committed_state["case_books"] = CaseBooks()
        self.repository: Repository[Case] = Repository(
            self.store,
            Case,
            source="/case-service",
            clock=self.env.clock,
            jurisdiction=lambda c: c.jurisdiction,
        )

        async def project(
            tx: MemoryTransaction, case: Case, _changes: Sequence[Any], _recorded: Sequence[RecordedEvent]
        ) -> None:
            _project(tx, case, self.env)

        self.repository.add_projection(project)
        self.bus: CaseBus = CommandBus(COMMAND_HANDLERS, self._unit_of_work, self.env)

    @property
    def books(self) -> CaseBooks:
        books = self.store.committed_state["case_books"]
        assert isinstance(books, CaseBooks)
        return books

    @asynccontextmanager
    async def _unit_of_work(self, tx: MemoryTransaction | None) -> AsyncIterator[InMemoryCaseUnitOfWork]:
        if tx is not None:
            yield InMemoryCaseUnitOfWork(self.repository, tx, self.env)
            return
        async with self.store.transaction() as own:
            own.state["case_books"] = _books(own).copy()  # the transaction's own copy: commits or not
            yield InMemoryCaseUnitOfWork(self.repository, own, self.env)

    async def handle(self, command: object) -> Any:
        return await self.bus.handle(command)
