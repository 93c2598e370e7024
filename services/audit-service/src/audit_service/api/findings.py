"""`GET /audit/findings`: compliance findings computed from the trail with the gate's rule packs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from audit_service.api.deps import PoolDep, RuntimeDep, require_platform_auditor
from audit_service.application.findings import compute_findings

router = APIRouter(prefix="/audit", tags=["findings"], dependencies=[Depends(require_platform_auditor)])


@router.get("/findings")
async def findings(
    pool: PoolDep, runtime: RuntimeDep, case_id: str | None = None, rule_id: str | None = None
) -> dict[str, Any]:
    """Contacts the rules refuse (quiet hours, caps, holds, banned third parties, unrecorded field visits,
    and every other rule of the pack), each with its rule, pack version and proving entries."""
    found, checked = await compute_findings(pool, case_id, runtime.keys, runtime.vault)
    items = [f.to_json() for f in found if rule_id is None or f.rule_id == rule_id]
    return {"attempts_checked": checked, "findings": items}
