"""/debtor-requests: disputes and cease requests (about one debt), opt-outs, preferred times,
workplace bans and agreed contacts (about the debtor: recorded on each of their open cases)."""

from __future__ import annotations

from fastapi import APIRouter

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep, People
from contact_service.application import commands
from dcp_platform.values import from_fields

router = APIRouter(tags=["debtor requests"])


@router.post(
    "/debtor-requests", status_code=201, summary="Record a debtor's request (dispute, cease, opt-out...)"
)
async def debtor_request(
    body: schemas.DebtorRequest, principal: People, api: ContactApiDep
) -> schemas.DebtorRequestAccepted:
    windows = tuple(body.windows) if body.windows is not None else None
    command = from_fields(commands.RecordDebtorRequest, body, principal=principal, windows=windows)
    cases: list[str] = await api.handle(command)
    return schemas.DebtorRequestAccepted(kind=body.kind, recorded_on_cases=cases)
