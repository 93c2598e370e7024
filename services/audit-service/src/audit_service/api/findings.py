"""`GET /audit/findings`: compliance findings computed from the trail with the gate's rule packs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from audit_service.api.deps import AuditorDep, PoolDep, RuntimeDep, require_auditor, require_case_in_scope
from audit_service.application.findings import compute_findings
from dcp_platform.problems import Forbidden

router = APIRouter(prefix="/audit", tags=["findings"], dependencies=[Depends(require_auditor)])


@router.get("/findings")
async def findings(
    pool: PoolDep,
    runtime: RuntimeDep,
    principal: AuditorDep,
    case_id: str | None = None,
    rule_id: str | None = None,
) -> dict[str, Any]:
    """Contacts the rules refuse (quiet hours, caps, holds, banned third parties, unrecorded field visits,
    and every other rule of the pack), each with its rule, pack version and proving entries. A caller
    scoped to some creditors asks by case (`case_id`, one of theirs)."""
    if principal.creditors is not None:
        if case_id is None:
            raise Forbidden("A caller acting for some creditors asks for findings by case: give case_id.")
        async with pool.acquire() as conn:
            await require_case_in_scope(conn, principal, case_id)
    found, checked = await compute_findings(pool, case_id, runtime.keys, runtime.vault)
    items = [f.to_json() for f in found if rule_id is None or f.rule_id == rule_id]
    return {"attempts_checked": checked, "findings": items}
