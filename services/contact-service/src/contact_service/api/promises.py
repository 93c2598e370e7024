"""/promises: a promise to pay, within the rules (no hold, due within the pack's horizon)."""

from __future__ import annotations

from fastapi import APIRouter

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep, People
from contact_service.application import commands
from dcp_platform.auth import Role
from dcp_platform.values import from_fields

router = APIRouter(tags=["promises"])


@router.post("/promises", status_code=201, summary="Record a promise to pay")
async def make_promise(
    body: schemas.PromiseRequest, principal: People, api: ContactApiDep
) -> schemas.PromiseAccepted:
    collector = principal.subject if principal.role is Role.COLLECTOR else body.collector_id
    command = from_fields(commands.MakePromise, body, principal=principal, collector_id=collector)
    promise_id: str = await api.handle(command)
    return schemas.PromiseAccepted(promise_id=promise_id)
