"""Dependencies of the auditor API: the runtime, the caller (auditor or admin), PII visibility."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import Depends, Query, Request

from audit_service.adapters import trail
from audit_service.application.runtime import AuditRuntime
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.problems import Forbidden, NotFound

AUDIT_ROLES = (Role.AUDITOR, Role.ADMIN)
_audit_roles = require_roles(*AUDIT_ROLES)


async def require_auditor(principal: Annotated[Principal, Depends(_audit_roles)]) -> Principal:
    """An auditor or admin; one scoped to some creditors reads their cases' entries only."""
    return principal


async def require_platform_auditor(principal: Annotated[Principal, Depends(_audit_roles)]) -> Principal:
    """An auditor or admin of the whole platform: verification, checkpoints, proofs and reconciliation
    span every creditor's chains, so a token scoped to some creditors is refused there (403)."""
    if principal.creditors is not None:
        raise Forbidden("This is for platform-wide auditors: a token scoped to creditors is refused.")
    return principal


async def require_case_in_scope(conn: asyncpg.Connection, principal: Principal, case_id: str | None) -> None:
    """For a caller scoped to some creditors: the case must be one of theirs (else it does not exist
    for them: 404); an entry without a case is nobody's."""
    if principal.creditors is None:
        return
    creditor = await trail.creditor_of_case(conn, case_id) if case_id else None
    if creditor is None or creditor not in principal.creditors:
        raise NotFound(f"No case {case_id}." if case_id else "Not found.")


def get_runtime(request: Request) -> AuditRuntime:
    runtime: AuditRuntime = request.app.state.audit
    return runtime


def get_pool(runtime: Annotated[AuditRuntime, Depends(get_runtime)]) -> asyncpg.Pool:
    return runtime.pool


RuntimeDep = Annotated[AuditRuntime, Depends(get_runtime)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
AuditorDep = Annotated[Principal, Depends(require_auditor)]


def reveals_pii(principal: Principal, runtime: AuditRuntime) -> bool:
    return principal.role.value in runtime.settings.trail_pii_roles


def _caller_sees_pii(principal: AuditorDep, runtime: RuntimeDep) -> bool:
    return reveals_pii(principal, runtime)


RevealsPii = Annotated[bool, Depends(_caller_sees_pii)]
"""Whether the caller's role may see the trail's personal data (AUDIT_PII_ROLES); others get it masked."""


def entry_filter(
    principal: AuditorDep,
    actor: str | None = None,
    type: str | None = None,
    case_id: str | None = None,
    topic: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
) -> trail.EntryFilter:
    """The filter of the entry queries: actor, event type (with or without `.vN`), case, topic and
    time range (`from`, `to`)."""
    return trail.EntryFilter(
        actor=actor,
        event_type=type,
        case_id=case_id,
        topic=topic,
        time_from=from_,
        time_to=to,
        creditors=None if principal.creditors is None else tuple(sorted(principal.creditors)),
    )


EntryFilterDep = Annotated[trail.EntryFilter, Depends(entry_filter)]
