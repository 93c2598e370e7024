"""Dependencies of the routes: the case API (command bus and reads), role aliases and the If-Match version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from case_service.application.ports import CaseBus, CaseEnvironment
from case_service.domain.policy import CollectionPolicy
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.clock import Clock
from dcp_platform.disclosure import Disclosures
from dcp_platform.eventsourcing.store import ConcurrencyConflict, EventStore
from dcp_platform.problems import BadRequest


@dataclass(frozen=True)
class CaseApi:
    """What the routes use: the command bus for changes, the engine and store for reads."""

    bus: CaseBus
    env: CaseEnvironment
    engine: AsyncEngine
    store: EventStore
    disclosures: Disclosures  # who sees debtors' personal data, and the audited unmask

    def shown_to(self, principal: Principal, value: Any, *, reveal: bool | None = None) -> Any:
        return self.disclosures.shown_to(principal, value, reveal=reveal)

    @property
    def clock(self) -> Clock:
        return self.env.clock

    @property
    def policy(self) -> CollectionPolicy:
        return self.env.policy

    def today(self) -> date:
        return self.env.today()

    async def handle(self, command: object) -> Any:
        """Run a command; one that names no expected version is run again (up to 3 times) when a
        consumer appended to the case between its read and its write (a concurrent fact, e.g. a
        payment). With an expected version (If-Match) the conflict is the caller's answer: 409."""
        for attempt in range(3):
            try:
                return await self.bus.handle(command)
            except ConcurrencyConflict:
                if getattr(command, "expected_version", None) is not None or attempt == 2:
                    raise
        raise AssertionError("unreachable")


def get_case_api(request: Request) -> CaseApi:
    api: CaseApi = request.app.state.case_api
    return api


CaseApiDep = Annotated[CaseApi, Depends(get_case_api)]

Reader = Annotated[
    Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))
]
CaseWorker = Annotated[Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN))]
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN))]
Placer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION))]
Analyst = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))]


def expected_version(if_match: Annotated[str | None, Header()] = None) -> int | None:
    """`If-Match: "7"` (the case's version from GET, also its ETag): refuse if the case moved on."""
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise BadRequest('If-Match must be the case version as returned in the ETag, e.g. "7"')
    return int(value)


ExpectedVersion = Annotated[int | None, Depends(expected_version)]
