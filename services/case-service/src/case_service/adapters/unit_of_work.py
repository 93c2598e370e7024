"""The case service's unit of work on PostgreSQL: the case repository over the event store, and the
read models, timers and staff directory of the same transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import (
    experiments,
    import_records,
    policy_store,
    projections,
    queries,
    simulation,
    staff,
    tables,
    training,
)
from case_service.application.commands import CreateImport
from case_service.application.ports import CaseCause, CaseEnvironment, stamped
from case_service.domain.assignment import Candidate, StaffMember
from case_service.domain.case import Case, redacted_payload
from case_service.domain.experiments import EnrolledCase
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.cases import CaseEvent
from dcp_events.catalogue.enums import AssigneeKind
from dcp_platform.application import in_transaction
from dcp_platform.eventsourcing import schema as es
from dcp_platform.eventsourcing.records import RecordedEvent
from dcp_platform.eventsourcing.repository import Repository
from dcp_platform.eventsourcing.store import ConcurrencyConflict, EventStore
from dcp_platform.eventsourcing.timer_ports import PostgresTimers

SOURCE = "/case-service"


def case_repository(store: EventStore, env: CaseEnvironment) -> Repository[Case]:
    """Cases in the service's event store; every save projects the case's read models with it."""
    repository = Repository(
        store, Case, source=SOURCE, clock=env.clock, jurisdiction=lambda case: case.jurisdiction
    )

    async def project(
        conn: AsyncConnection, case: Case, changes: Sequence[Any], _recorded: Sequence[RecordedEvent]
    ) -> None:
        await project_cases(conn, [(case, changes)], env.now(), env.policy)

    repository.add_projection(project)
    return repository


async def project_cases(
    conn: AsyncConnection,
    changed: Sequence[tuple[Case, Sequence[CaseEvent]]],
    now: datetime,
    policy: CollectionPolicy,
) -> None:
    """The case rows and the roll, cure and recovery KPIs of `changed`, in multi-row statements."""
    today = now.astimezone(UTC).date()
    await projections.upsert_cases(
        conn, [projections.case_row(case, now=now, today=today, policy=policy) for case, _ in changed]
    )
    transitions: list[dict[str, Any]] = []
    recoveries: list[dict[str, Any]] = []
    enrolments: list[dict[str, Any]] = []
    signals: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    for case, changes in changed:
        t, r = projections.kpi_rows(case, changes, now)
        transitions += t
        recoveries += r
        e, s, g = projections.experiment_rows(case, changes, now)
        enrolments += e
        signals += s
        segments += g
    await projections.write_kpis(conn, transitions, recoveries)
    await projections.write_experiment_rows(conn, enrolments, signals, segments)


@dataclass
class PostgresExperimentBook:
    tx: AsyncConnection

    async def enrolled_cases(self, experiment_id: str, start: datetime, end: datetime) -> list[EnrolledCase]:
        return await experiments.enrolled_cases(self.tx, experiment_id, start, end)

    async def first_enrolment(self, experiment_id: str) -> datetime | None:
        return await experiments.first_enrolment(self.tx, experiment_id)

    async def stops(self) -> dict[tuple[str, str], dict[str, Any]]:
        return await experiments.stops(self.tx)

    async def stop_arm(
        self, experiment_id: str, arm: str, at: datetime, reason: str, detail: Mapping[str, Any]
    ) -> bool:
        return await experiments.stop_arm(self.tx, experiment_id, arm, at, reason, detail)

    async def open_case_ids_in_arm(
        self, experiment_id: str, arm: str, after: str | None, limit: int
    ) -> list[str]:
        return await experiments.open_case_ids_in_arm(self.tx, experiment_id, arm, after, limit)


@dataclass
class PostgresCaseUnitOfWork(PostgresTimers):
    cases: Repository[Case]
    tx: AsyncConnection
    env: CaseEnvironment

    async def open_new(self, cases: Sequence[Case], cause: CaseCause | None = None) -> list[Case]:
        store = self.cases.store
        assert isinstance(store, EventStore)
        batch = [(case, stamped(self.cases, case, cause)) for case in cases]
        try:
            await store.append_new_streams([(case.case_id, events) for case, events in batch], conn=self.tx)
            opened = [case for case, _ in batch]
        except ConcurrencyConflict:
            # Some account was placed meanwhile by another path: append one by one, skipping those.
            opened = []
            for case, events in batch:
                try:
                    await store.append(case.case_id, 0, events, conn=self.tx)
                    opened.append(case)
                except ConcurrencyConflict:
                    continue
        for case in opened:
            case.version = len(case.pull_changes())
        return opened

    async def save_together(self, cases: Sequence[Case]) -> list[tuple[Case, list[CaseEvent]]]:
        appended = await self.cases.append_together(cases, self.tx)
        saved = [(case, [c for c in changes if isinstance(c, CaseEvent)]) for case, changes in appended]
        await self.project(saved)
        return saved

    async def project(self, changed: Sequence[tuple[Case, Sequence[CaseEvent]]]) -> None:
        await project_cases(self.tx, changed, self.env.now(), self.env.policy)

    async def existing_case_ids(self, case_ids: Sequence[str]) -> set[str]:
        return await queries.existing_case_ids(self.tx, list(case_ids))

    async def case_ids_needing_ageing(self, today: date, limit: int) -> list[str]:
        return await queries.case_ids_needing_ageing(self.tx, today, limit)

    async def keep_ageing_dates(self, cases: Sequence[Case]) -> None:
        today, policy = self.env.today(), self.env.policy
        rows = [
            {"case": c.case_id, "seen_version": c.version, "due_on": c.next_ageing_on(today, policy)}
            for c in cases
        ]
        if rows:
            await self.tx.execute(projections.KEEP_AGEING_DATE, rows)

    async def case_ids_of_debtor(self, debtor_id: str) -> list[str]:
        return await queries.case_ids_of_debtor(self.tx, debtor_id)

    async def redact_stored_events(self, case_id: str) -> None:
        rows = await self.tx.execute(
            select(es.events.c.position, es.events.c.payload).where(es.events.c.stream_id == case_id)
        )
        for position, payload in rows.all():
            redacted = redacted_payload(payload)
            if redacted is not None:
                await self.tx.execute(
                    update(es.events).where(es.events.c.position == position).values(payload=redacted)
                )

    async def open_case_ids_of_products(
        self, products: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        return await queries.open_case_ids_of_products(self.tx, products, after, limit)

    async def candidates(self, kind: AssigneeKind | None = None) -> list[Candidate]:
        return await staff.candidates(self.tx, kind)

    async def upsert_member(self, member: StaffMember, now: datetime) -> None:
        await staff.upsert_member(self.tx, member, now)

    async def open_case_ids_assigned_to(self, kind: AssigneeKind, assignee_id: str, limit: int) -> list[str]:
        c = tables.cases.c
        rows = await self.tx.execute(
            select(c.case_id)
            .where(c.status == "open", c.assignee_kind == kind.value, c.assignee_id == assignee_id)
            .order_by(c.case_id)
            .limit(limit)
        )
        return [str(r[0]) for r in rows]

    async def team_cursor(self, team: str) -> str | None:
        return await staff.team_cursor(self.tx, team)

    async def move_team_cursor(self, team: str, last: str) -> None:
        await staff.move_team_cursor(self.tx, team, last)

    async def promise_made(
        self, promise_id: str, case_id: str, collector_id: str | None, at: datetime
    ) -> None:
        await projections.promise_made(self.tx, promise_id, case_id, collector_id, at)

    async def promise_settled(self, promise_id: str, case_id: str, status: str, at: datetime) -> None:
        await projections.promise_settled(self.tx, promise_id, case_id, status, at)

    async def collector_activity(
        self, event_id: str, collector_id: str, case_id: str, kind: str, at: datetime
    ) -> None:
        await projections.collector_activity(self.tx, event_id, collector_id, case_id, kind, at)

    async def contact_outcome(
        self, event_id: str, case_id: str, channel: str, right_party: bool, at: datetime
    ) -> None:
        await projections.contact_outcome(self.tx, event_id, case_id, channel, right_party, at)

    async def case_signal(self, case_id: str, kind: str, at: datetime) -> None:
        await projections.case_signal(self.tx, case_id, kind, at)

    async def policy_versions(self, name: str) -> list[dict[str, Any]]:
        return await policy_store.versions(self.tx, name)

    async def policy_version(self, name: str, version: int) -> dict[str, Any] | None:
        return await policy_store.version(self.tx, name, version, lock=True)

    async def insert_policy_version(self, row: Mapping[str, Any]) -> None:
        await policy_store.insert_version(self.tx, row)

    async def update_policy_version(self, name: str, version: int, values: Mapping[str, Any]) -> None:
        await policy_store.update_version(self.tx, name, version, values)

    async def outcome_history(self, now: datetime, horizon_days: int) -> training.History:
        return await training.history(self.tx, now, horizon_days)

    async def policy_simulation(self, simulation_id: str) -> dict[str, Any] | None:
        return await simulation.simulation(self.tx, simulation_id)

    def experiment_book(self) -> PostgresExperimentBook:
        return PostgresExperimentBook(self.tx)

    async def insert_import(self, record: CreateImport, created_at: datetime) -> None:
        await import_records.insert_import(self.tx, record, created_at)

    async def update_import(self, import_id: str, values: Mapping[str, Any]) -> None:
        await import_records.update_import(self.tx, import_id, dict(values))

    async def insert_rejections(self, rejections: Sequence[Mapping[str, Any]]) -> None:
        await import_records.insert_rejections(self.tx, [dict(r) for r in rejections])


def unit_of_work_factory(store: EventStore, repository: Repository[Case], env: CaseEnvironment) -> Any:
    """`factory(tx)`: a unit of work in the caller's transaction, or in a new one."""
    return in_transaction(store, lambda tx: PostgresCaseUnitOfWork(repository, tx, env))
