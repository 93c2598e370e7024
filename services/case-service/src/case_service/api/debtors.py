"""/debtors/{id}/erasure: the right to erasure, for an administrator, with a reason and a legal basis."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import Field

from case_service.api.deps import CaseApiDep
from case_service.api.schemas import Body
from case_service.application.commands import EraseDebtor, ErasureOutcome
from dcp_platform.auth import Principal, Role, require_roles
from dcp_platform.problems import Forbidden, NotFound

router = APIRouter(prefix="/debtors", tags=["debtors"])

Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


class ErasureRequest(Body):
    reason: str = Field(
        min_length=1, max_length=2000, description="Why, e.g. the debtor's request of a date."
    )
    legal_basis: str = Field(min_length=1, max_length=2000, description="e.g. UK GDPR Art. 17(1)(a).")


@router.post("/{debtor_id}/erasure")
async def erase_debtor(
    debtor_id: Annotated[str, Path(min_length=1, max_length=128)],
    body: ErasureRequest,
    principal: Admin,
    service: CaseApiDep,
) -> dict[str, Any]:
    """Erase the debtor's personal data on each of their closed cases: every service drops it (each
    case records ErasureCompleted), the audit trail can no longer show it and still verifies. Open cases
    keep it, still needed to collect the debt, and are listed in `still_open`: close or recall them,
    then ask again. Asking again is harmless (`already_erased`). A platform-wide administrator's act:
    a token scoped to some creditors may not erase (a debtor's cases may span creditors)."""
    if principal.creditors is not None:
        raise Forbidden("erasure is for a platform-wide administrator (a token without creditors)")
    outcome: ErasureOutcome = await service.handle(
        EraseDebtor(debtor_id, "request", body.reason, body.legal_basis)
    )
    if not (outcome.erased or outcome.already_erased or outcome.still_open):
        raise NotFound(f"No case of debtor {debtor_id}.")
    return {
        "debtor_id": debtor_id,
        "erased": outcome.erased,
        "already_erased": outcome.already_erased,
        "still_open": outcome.still_open,
    }
