"""Dependencies of the auditor API: the runtime, the caller (auditor or admin), PII visibility."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from audit_service.application.runtime import AuditRuntime
from dcp_platform.auth import Principal, Role, require_roles

AUDIT_ROLES = (Role.AUDITOR, Role.ADMIN)


def get_runtime(request: Request) -> AuditRuntime:
    runtime: AuditRuntime = request.app.state.audit
    return runtime


def get_pool(runtime: Annotated[AuditRuntime, Depends(get_runtime)]) -> asyncpg.Pool:
    return runtime.pool


RuntimeDep = Annotated[AuditRuntime, Depends(get_runtime)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
AuditorDep = Annotated[Principal, Depends(require_roles(*AUDIT_ROLES))]


def reveals_pii(principal: Principal, runtime: AuditRuntime) -> bool:
    return principal.role.value in runtime.settings.pii_roles
