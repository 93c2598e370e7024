"""What the case service's handlers need besides the domain: one unit of work per command (the case
repository and the read models, timers and staff directory of the same transaction), and the
environment every handler may read (policy and clock).

Two implementations: PostgreSQL (`adapters/unit_of_work.py`) and, for the fast application tests,
memory (`adapters/memory.py`), both over a store that passes the platform's contract suite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from case_service.application.commands import CreateImport
from case_service.domain.assignment import Candidate, StaffMember
from case_service.domain.case import Case
from case_service.domain.experiments import EnrolledCase

if TYPE_CHECKING:
    from case_service.adapters.training import History
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.cases import CaseEvent
from dcp_events.catalogue.enums import AssigneeKind
from dcp_platform.application import CommandBus
from dcp_platform.clock import Clock
from dcp_platform.eventsourcing.records import NewEvent
from dcp_platform.eventsourcing.repository import Repository
from dcp_platform.eventsourcing.timer_ports import TimerPort

CaseCause = Callable[[Case], AbstractContextManager[object]]
"""The causal context a just-opened case's events are stamped in."""


def stamped(cases: Repository[Case], case: Case, cause: CaseCause | None) -> list[NewEvent]:
    """The just-opened case's recorded changes as events to append, stamped within `cause(case)`."""
    with cause(case) if cause is not None else nullcontext():
        return cases.new_events(case, case.pending)


class DataKeys(Protocol):
    """The key vault: destroying a case's data key makes what was sealed under it unreadable."""

    async def destroy(self, subjects: Sequence[str], reason: str) -> None: ...


@dataclass
class CaseEnvironment:
    policy: CollectionPolicy
    clock: Clock
    keys: DataKeys | None = None
    """The key vault the personal data of published events is sealed under (None: sealing is off)."""

    def now(self) -> datetime:
        return self.clock.now()

    def stop_arms(self, stopped: frozenset[tuple[str, str]]) -> None:
        """Take the experiment arms stopped so far (by any replica) out of segmentation."""
        self.policy = self.policy.with_stopped_arms(stopped)

    def today(self) -> date:
        return self.clock.now().astimezone(UTC).date()


class CaseUnitOfWork(TimerPort, Protocol):
    """Everything one command touches, in one transaction."""

    cases: Repository[Case]
    tx: Any

    async def open_new(self, cases: Sequence[Case], cause: CaseCause | None = None) -> list[Case]:
        """Append just-opened cases in bulk; those already placed meanwhile are left out. Each case's
        events are stamped within `cause(case)` (the current context when None)."""
        ...

    async def save_together(self, cases: Sequence[Case]) -> list[tuple[Case, list[CaseEvent]]]:
        """Append what each case recorded and project them, together (one append and one projection
        where the store allows); ConcurrencyConflict, and nothing saved, when one of them moved on
        since it was loaded. Returns (case, changes) of the cases that recorded something."""
        ...

    async def project(self, changed: Sequence[tuple[Case, Sequence[CaseEvent]]]) -> None:
        """The read models of cases appended by `open_new` (saves through `cases` project themselves)."""
        ...

    async def existing_case_ids(self, case_ids: Sequence[str]) -> set[str]: ...

    async def case_ids_of_debtor(self, debtor_id: str) -> list[str]:
        """Every case of the debtor, open or closed."""
        ...

    async def redact_stored_events(self, case_id: str) -> None:
        """Remove the debtor's personal data from the case's stored events (after its ErasureCompleted):
        a replay then rebuilds the erased state, and nothing personal is left to read."""
        ...

    async def case_ids_needing_ageing(self, today: date, limit: int) -> list[str]: ...

    async def keep_ageing_dates(self, cases: Sequence[Case]) -> None:
        """Write when each of `cases` next needs the daily ageing, for cases the run looked at and left
        unchanged (a paused escalation); a case saved meanwhile keeps the date its save wrote."""
        ...

    async def open_case_ids_of_products(
        self, products: Sequence[str], after: str | None, limit: int
    ) -> list[str]:
        """Open cases of `products`, in case id order after `after` (the interest run's batches)."""
        ...

    async def candidates(self, kind: AssigneeKind | None = None) -> list[Candidate]: ...

    async def upsert_member(self, member: StaffMember, now: datetime) -> None: ...

    async def open_case_ids_assigned_to(self, kind: AssigneeKind, assignee_id: str, limit: int) -> list[str]:
        """Open cases assigned to one collector or agency, in case id order (to rebalance them)."""
        ...

    async def team_cursor(self, team: str) -> str | None: ...

    async def move_team_cursor(self, team: str, last: str) -> None: ...

    async def promise_made(
        self, promise_id: str, case_id: str, collector_id: str | None, at: datetime
    ) -> None: ...

    async def promise_settled(self, promise_id: str, case_id: str, status: str, at: datetime) -> None: ...

    async def contact_outcome(
        self, event_id: str, case_id: str, channel: str, right_party: bool, at: datetime
    ) -> None: ...

    async def case_signal(self, case_id: str, kind: str, at: datetime) -> None:
        """A harm an experiment's guards watch (a gate refusal, a dispute) reported by another service."""
        ...

    async def policy_versions(self, name: str) -> list[dict[str, Any]]:
        """Every stored version of the policy, oldest first (the bundled version 1 once it is stored)."""
        ...

    async def policy_version(self, name: str, version: int) -> dict[str, Any] | None: ...

    async def insert_policy_version(self, row: Mapping[str, Any]) -> None: ...

    async def update_policy_version(self, name: str, version: int, values: Mapping[str, Any]) -> None: ...

    async def outcome_history(self, now: datetime, horizon_days: int) -> History | None:
        """What the propensity model learns from (None where the service keeps no KPI read models)."""
        ...

    async def policy_simulation(self, simulation_id: str) -> dict[str, Any] | None:
        """A stored simulation report (its `policy` and `candidate_version` name what it simulated)."""
        ...

    def experiment_book(self) -> ExperimentBook | None:
        """The experiments' outcomes and stops (None where the service keeps no KPI read models)."""
        ...

    async def collector_activity(
        self, event_id: str, collector_id: str, case_id: str, kind: str, at: datetime
    ) -> None: ...

    async def insert_import(self, record: CreateImport, created_at: datetime) -> None: ...

    async def update_import(self, import_id: str, values: Mapping[str, Any]) -> None: ...

    async def insert_rejections(self, rejections: Sequence[Mapping[str, Any]]) -> None: ...


CaseBus = CommandBus[CaseUnitOfWork, CaseEnvironment]


class ExperimentBook(Protocol):
    """What the experiment review reads and writes besides the cases."""

    async def enrolled_cases(
        self, experiment_id: str, start: datetime, end: datetime
    ) -> list[EnrolledCase]: ...

    async def first_enrolment(self, experiment_id: str) -> datetime | None: ...

    async def stops(self) -> dict[tuple[str, str], dict[str, Any]]: ...

    async def stop_arm(
        self, experiment_id: str, arm: str, at: datetime, reason: str, detail: Mapping[str, Any]
    ) -> bool: ...

    async def open_case_ids_in_arm(
        self, experiment_id: str, arm: str, after: str | None, limit: int
    ) -> list[str]: ...
