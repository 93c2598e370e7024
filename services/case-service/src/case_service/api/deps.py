"""Dependencies of the routes: the case service, role aliases and the If-Match version."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from case_service.application.cases import CaseService
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.problems import BadRequest


def get_case_service(request: Request) -> CaseService:
    service: CaseService = request.app.state.case_service
    return service


CaseServiceDep = Annotated[CaseService, Depends(get_case_service)]

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
