"""/debtor-requests: disputes and cease requests (about one debt), opt-outs, preferred times,
workplace bans and agreed contacts (about the debtor: recorded on each of their open cases)."""

from __future__ import annotations

from fastapi import APIRouter

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep, Staff
from contact_service.application import commands

router = APIRouter(tags=["debtor requests"])


@router.post(
    "/debtor-requests", status_code=201, summary="Record a debtor's request (dispute, cease, opt-out...)"
)
async def debtor_request(
    body: schemas.DebtorRequest, principal: Staff, api: ContactApiDep
) -> schemas.DebtorRequestAccepted:
    cases: list[str] = await api.handle(
        commands.RecordDebtorRequest(
            principal=principal,
            case_id=body.case_id,
            kind=body.kind,
            received_via=body.received_via,
            reason=body.reason,
            channel=body.channel,
            contact_point=body.contact_point,
            windows=tuple(body.windows) if body.windows is not None else None,
            preferred_channel=body.preferred_channel,
            disputed_amount=body.disputed_amount,
            relation=body.relation,
        )
    )
    return schemas.DebtorRequestAccepted(kind=body.kind, recorded_on_cases=cases)
