"""Runs commands on cases: load from the event store, apply the domain command, append the new events,
update the read models and timers, all in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from case_service.adapters import queries, staff
from case_service.adapters import timers as case_timers
from case_service.adapters.projections import case_row, kpi_rows, upsert_cases, write_kpis
from case_service.domain.assignment import AssignmentPolicy, CaseProfile, choose
from case_service.domain.case import Case
from case_service.domain.errors import CaseNotFound, NoQualifiedAssignee
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.cases import (
    CaseClosed,
    CaseEvent,
    CaseHoldPlaced,
    CaseHoldReleased,
    CaseStageChanged,
)
from dcp_events.catalogue.enums import AssigneeKind
from dcp_events.catalogue.registry import model_for
from dcp_events.upcasting import upcast
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing import timers
from dcp_platform.eventsourcing.events import event_for
from dcp_platform.eventsourcing.store import ConcurrencyConflict, EventStore, RecordedEvent

SOURCE = "/case-service"
HOLD_EXPIRY_TIMER = "case.hold_expiry"

T = TypeVar("T")


def to_case_event(recorded: RecordedEvent) -> CaseEvent:
    type_str, data = upcast(recorded.event_type, recorded.payload)
    payload = model_for(type_str).model_validate(data)
    assert isinstance(payload, CaseEvent)
    return payload


@dataclass
class CaseService:
    """The application service every entry point (REST, consumers, timers, imports) goes through."""

    engine: AsyncEngine
    store: EventStore
    clock: Clock
    policy: CollectionPolicy

    def today(self) -> date:
        return self.clock.now().astimezone(UTC).date()

    @asynccontextmanager
    async def transaction(self, conn: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
        if conn is not None:
            yield conn
            return
        async with self.engine.begin() as own:
            yield own

    async def load(self, conn: AsyncConnection, case_id: str) -> Case:
        history = await self.store.load(case_id, conn=conn)
        if not history:
            raise CaseNotFound(case_id)
        return Case.from_history(case_id, history)

    async def exists(self, conn: AsyncConnection, case_id: str) -> bool:
        return (await self.store.version(case_id, conn=conn)) > 0

    async def save(self, conn: AsyncConnection, case: Case, expected_version: int) -> list[CaseEvent]:
        """Append the case's new events at `expected_version` and update read models and timers."""
        changes = case.pull_changes()
        if not changes:
            return []
        now = self.clock.now()
        events = [
            event_for(
                c, subject=case.case_id, source=SOURCE, clock=self.clock, jurisdiction=case.jurisdiction
            )
            for c in changes
        ]
        await self.store.append(case.case_id, expected_version, events, conn=conn)
        case.version = expected_version + len(changes)
        await self.project(conn, [(case, changes)], now)
        await self._timers(conn, case, changes)
        if self.reached_agency_stage(case, changes):
            await self.place_with_agency(conn, case)
        return changes

    def reached_agency_stage(self, case: Case, changes: Sequence[CaseEvent]) -> bool:
        stage = self.policy.agency_at_stage
        return (
            stage is not None
            and case.is_open
            and any(isinstance(c, CaseStageChanged) and c.to_stage is stage for c in changes)
            and (case.assignee is None or case.assignee.kind is not AssigneeKind.AGENCY)
        )

    async def place_with_agency(self, conn: AsyncConnection, case: Case) -> None:
        """Agency placement at a stage: the least-loaded qualified agency, if any (else stays in house)."""
        assert case.debtor is not None
        pool = await staff.candidates(conn, AssigneeKind.AGENCY)
        try:
            choice = choose(
                AssignmentPolicy.AGENCY,
                CaseProfile(case.jurisdiction, case.debtor.language),
                pool,
                self.today(),
            )
        except NoQualifiedAssignee:
            return
        case.assign(choice.kind, choice.id, choice.reason, choice.policy.value)
        await self.save(conn, case, case.version)

    async def project(
        self, conn: AsyncConnection, changed: Sequence[tuple[Case, Sequence[CaseEvent]]], now: datetime
    ) -> None:
        today = now.astimezone(UTC).date()
        rows = [case_row(case, now=now, today=today, policy=self.policy) for case, _ in changed]
        await upsert_cases(conn, rows)
        transitions: list[dict[str, Any]] = []
        recoveries: list[dict[str, Any]] = []
        for case, changes in changed:
            t, r = kpi_rows(case, changes, now)
            transitions += t
            recoveries += r
        await write_kpis(conn, transitions, recoveries)

    async def _timers(self, conn: AsyncConnection, case: Case, changes: Sequence[CaseEvent]) -> None:
        for change in changes:
            if isinstance(change, CaseHoldPlaced) and change.expires_at is not None:
                await timers.schedule(
                    conn,
                    HOLD_EXPIRY_TIMER,
                    f"{case.case_id}:{change.hold_id}",
                    change.expires_at,
                    {"case_id": case.case_id, "hold_id": change.hold_id},
                )
            elif isinstance(change, CaseHoldReleased):
                await timers.cancel(conn, HOLD_EXPIRY_TIMER, f"{case.case_id}:{change.hold_id}")
            elif isinstance(change, CaseClosed):
                for hold_key in await case_timers.pending_keys(conn, HOLD_EXPIRY_TIMER, f"{case.case_id}:"):
                    await timers.cancel(conn, HOLD_EXPIRY_TIMER, hold_key)

    async def execute(
        self,
        case_id: str,
        command: Callable[[Case], T],
        *,
        expected_version: int | None = None,
        conn: AsyncConnection | None = None,
    ) -> tuple[Case, T]:
        """Load the case, run `command` on it, save what it recorded. `expected_version` (If-Match)
        refuses with ConcurrencyConflict when the case moved on since the caller read it."""
        async with self.transaction(conn) as tx:
            case = await self.load(tx, case_id)
            loaded = case.version
            if expected_version is not None and expected_version != loaded:
                raise ConcurrencyConflict(case_id, expected_version)
            result = command(case)
            await self.save(tx, case, loaded)
            return case, result

    async def open(self, case: Case, *, conn: AsyncConnection | None = None) -> bool:
        """Append a just-opened case; False when the case already exists (placements are idempotent)."""
        async with self.transaction(conn) as tx:
            if await self.exists(tx, case.case_id):
                return False
            try:
                await self.save(tx, case, 0)
            except ConcurrencyConflict:
                return False  # opened concurrently by another placement of the same account
            return True

    async def case_ids_needing_ageing(self, conn: AsyncConnection, today: date, limit: int) -> list[str]:
        return await queries.case_ids_needing_ageing(conn, today, limit)
