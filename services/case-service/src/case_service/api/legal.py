"""/cases/{case_id}/legal: the legal stage as a workflow. A referral to a solicitor or the in-house
legal team (a collector's referral of a balance above the policy's threshold waits for a supervisor's
approval; a time-barred debt is never referred), then the claim, hearings, the judgment and
enforcement, each an event with its documents by reference and its costs booked to the costs part."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from case_service.api.cases import _visible_row
from case_service.api.deps import CaseApiDep, CaseWorker, Reader, Supervisor
from case_service.application import commands
from dcp_events.catalogue.base import DocumentReference, Money, Text
from dcp_events.catalogue.cases import CaseLegalStepRecorded
from dcp_events.catalogue.enums import LegalHandler, LegalStep
from dcp_platform.auth import CaseAccess, Role

router = APIRouter(prefix="/cases/{case_id}/legal", tags=["legal"])


class ReferralRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referral_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="Idempotency key; generated if absent."
    )
    handler: LegalHandler
    handler_id: str = Field(min_length=1, max_length=128, description="The firm or the in-house team.")
    reason: Text
    documents: list[DocumentReference] = Field(default_factory=list, max_length=20)


class ReferralAnswer(BaseModel):
    case_id: str
    referral_id: str
    status: Literal["referred", "requested"] = Field(
        description="requested: above the threshold a collector may refer; a supervisor approves it."
    )


class LegalStepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referral_id: str = Field(min_length=1, max_length=128)
    step: LegalStep
    on: date
    court: str | None = Field(default=None, min_length=1, max_length=200)
    reference: str | None = Field(default=None, min_length=1, max_length=128)
    judgment_amount: Money | None = None
    judgment_interest: Money | None = None
    enforcement: str | None = Field(default=None, min_length=1, max_length=128)
    costs: Money | None = None
    documents: list[DocumentReference] = Field(default_factory=list, max_length=20)
    note: Text | None = None


async def _matter(service: Any, case_id: str, principal: Any, access: CaseAccess) -> dict[str, Any]:
    async with service.engine.connect() as conn:
        row = await _visible_row(conn, case_id, principal, access)
    detail: dict[str, Any] = row.get("detail") or {}
    return {"case_id": case_id, "stage": row["stage"], "legal": detail.get("legal")}


@router.post("/referral", status_code=201, summary="Refer the case to a solicitor or in-house legal")
async def refer(
    case_id: str, body: ReferralRequest, principal: CaseWorker, service: CaseApiDep
) -> ReferralAnswer:
    await _matter(service, case_id, principal, CaseAccess.ACT)
    referral_id = body.referral_id or f"lgl-{uuid.uuid4().hex[:16]}"
    status = await service.handle(
        commands.ReferToLegal(
            case_id,
            referral_id,
            body.handler,
            body.handler_id,
            body.reason,
            principal.subject,
            principal.role in (Role.SUPERVISOR, Role.ADMIN),
            tuple(body.documents),
        )
    )
    return ReferralAnswer(case_id=case_id, referral_id=referral_id, status=status)


@router.post(
    "/referral/{referral_id}/approval", summary="A supervisor approves a collector's referral request"
)
async def approve(
    case_id: str, referral_id: str, principal: Supervisor, service: CaseApiDep
) -> dict[str, Any]:
    await _matter(service, case_id, principal, CaseAccess.ACT)
    await service.handle(commands.ApproveLegalReferral(case_id, referral_id, principal.subject))
    return await _matter(service, case_id, principal, CaseAccess.READ)


@router.post(
    "/steps", status_code=201, summary="Record a claim, hearing, judgment, enforcement or withdrawal"
)
async def record_step(
    case_id: str, body: LegalStepRequest, principal: Supervisor, service: CaseApiDep
) -> dict[str, Any]:
    await _matter(service, case_id, principal, CaseAccess.ACT)
    step = CaseLegalStepRecorded.model_validate({**body.model_dump(), "recorded_by": principal.subject})
    await service.handle(commands.RecordLegalStep(case_id, step))
    return await _matter(service, case_id, principal, CaseAccess.READ)


@router.get("", summary="The case's legal matter: referral, claim, hearings, judgment, enforcement, costs")
async def matter(case_id: str, principal: Reader, service: CaseApiDep) -> dict[str, Any]:
    return await _matter(service, case_id, principal, CaseAccess.READ)
