"""Assignment commands: the policies of domain/assignment.py over the staff directory and live loads."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import staff
from case_service.application.cases import CaseService
from case_service.domain.assignment import AssignmentPolicy, CaseProfile, Choice, check_direct, choose
from case_service.domain.case import Case
from case_service.domain.errors import AssigneeNotQualified
from dcp_events.catalogue.enums import AssigneeKind


@dataclass(frozen=True)
class AssignmentRequest:
    policy: AssignmentPolicy
    team: str | None = None
    assignee_id: str | None = None
    reason: str | None = None


async def assign(
    service: CaseService, case_id: str, request: AssignmentRequest, *, expected_version: int | None = None
) -> tuple[Case, Choice]:
    async with service.engine.begin() as conn:
        case = await service.load(conn, case_id)
        loaded = case.version
        if expected_version is not None and expected_version != loaded:
            from dcp_platform.eventsourcing.store import ConcurrencyConflict

            raise ConcurrencyConflict(case_id, expected_version)
        choice = await _choose(service, conn, case, request)
        case.assign(choice.kind, choice.id, choice.reason, choice.policy.value)
        if choice.policy is AssignmentPolicy.ROUND_ROBIN and choice.team is not None:
            await staff.move_team_cursor(conn, choice.team, choice.id)
        await service.save(conn, case, loaded)
        return case, choice


async def _choose(
    service: CaseService, conn: AsyncConnection, case: Case, request: AssignmentRequest
) -> Choice:
    assert case.debtor is not None
    profile = CaseProfile(case.jurisdiction, case.debtor.language)
    today = service.today()
    if request.policy is AssignmentPolicy.DIRECT:
        if request.assignee_id is None:
            raise ValueError("direct assignment names an assignee_id")
        pool = {c.member.id: c for c in await staff.candidates(conn)}
        candidate = pool.get(request.assignee_id)
        if candidate is None:
            raise AssigneeNotQualified(f"{request.assignee_id} is not an active collector or agency")
        reason = (
            request.reason
            or f"assigned by a supervisor to {candidate.member.kind.value} {candidate.member.id}"
        )
        return check_direct(candidate, profile, today, reason)
    if request.policy is AssignmentPolicy.RECALL:
        case.require_with_agency()
    kind = AssigneeKind.AGENCY if request.policy is AssignmentPolicy.AGENCY else AssigneeKind.COLLECTOR
    pool_list = await staff.candidates(conn, kind)
    last = None
    if request.policy is AssignmentPolicy.ROUND_ROBIN:
        if request.team is None:
            raise ValueError("round robin assignment names a team")
        last = await staff.team_cursor(conn, request.team)
    choice = choose(request.policy, profile, pool_list, today, team=request.team, last_assigned_in_team=last)
    if request.reason:
        return Choice(
            choice.kind, choice.id, choice.policy, f"{choice.reason}; {request.reason}", choice.team
        )
    return choice
