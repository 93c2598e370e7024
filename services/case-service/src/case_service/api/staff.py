"""/staff: collectors and external agencies, their capacity and qualifications (reference data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from case_service.adapters import staff
from case_service.api.deps import CaseApiDep, Supervisor
from case_service.api.schemas import StaffBody
from case_service.application.commands import UpsertStaffMember
from case_service.domain.assignment import Qualification, StaffMember
from dcp_events.catalogue.enums import AssigneeKind
from dcp_platform.problems import NotFound

router = APIRouter(prefix="/staff", tags=["staff"])


def _json(member: StaffMember) -> dict[str, Any]:
    return {
        "staff_id": member.id,
        "kind": member.kind.value,
        "team": member.team,
        "capacity": member.capacity,
        "active": member.active,
        "qualifications": staff.qualifications_json(member),
    }


@router.put("/{staff_id}")
async def put_member(staff_id: str, body: StaffBody, _: Supervisor, service: CaseApiDep) -> dict[str, Any]:
    member = StaffMember(
        kind=AssigneeKind(body.kind),
        id=staff_id,
        capacity=body.capacity,
        team=body.team,
        active=body.active,
        qualifications=tuple(
            Qualification(
                jurisdictions=frozenset(q.jurisdictions),
                languages=frozenset(q.languages),
                channels=frozenset(c.value for c in q.channels),
                expires_on=q.expires_on,
            )
            for q in body.qualifications
        ),
    )
    await service.handle(UpsertStaffMember(member))
    return _json(member)


@router.get("/{staff_id}")
async def get_member(staff_id: str, _: Supervisor, service: CaseApiDep) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        member = await staff.get_member(conn, staff_id)
    if member is None:
        raise NotFound(f"no staff member {staff_id}")
    return _json(member)


@router.get("")
async def list_members(_: Supervisor, service: CaseApiDep) -> list[dict[str, Any]]:
    async with service.engine.connect() as conn:
        return [_json(m) for m in await staff.list_members(conn)]
