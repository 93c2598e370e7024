"""`GET /audit/reconciliation`: every payment payment-service and case-service disagree on, with the
trail entries that prove it (from the topics alone)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from audit_service.api.deps import PoolDep, RuntimeDep, require_platform_auditor
from audit_service.application.reconciliation import DIVERGENCES, reconcile

router = APIRouter(prefix="/audit", tags=["reconciliation"], dependencies=[Depends(require_platform_auditor)])


@router.get("/reconciliation")
async def reconciliation(
    pool: PoolDep,
    runtime: RuntimeDep,
    case_id: str | None = None,
    settle_seconds: Annotated[
        float,
        Query(
            ge=0, le=86_400, description="Evidence newer than this is still in flight: not yet a divergence."
        ),
    ] = 30.0,
) -> dict[str, Any]:
    """Payments applied by payment-service and not booked by case-service (or booked for another amount,
    or reversed on one side only), each with its explanation and evidence entry ids; empty when the two
    services agree."""
    found, compared = await reconcile(pool, case_id=case_id, settle_seconds=settle_seconds, keys=runtime.keys)
    if case_id is None:
        DIVERGENCES.set(len(found))
    return {"payments_compared": compared, "divergences": [d.to_json() for d in found]}
