"""/cases/{case_id}/disputes: a case's disputes, how its rule pack classified each (within the US
validation period and in writing: verification_pending), and the verification sent for one, by
letter or e-mail, which lets collection resume."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep, People, Reader
from contact_service.api.messages import ChannelsDep, view
from contact_service.application import commands, messaging
from contact_service.domain.contacts import CaseDisputes, RecordedDispute
from dcp_events.catalogue.enums import Channel
from dcp_platform.auth import CaseAccess

router = APIRouter(tags=["disputes"])


def dispute_view(dispute: RecordedDispute) -> schemas.Dispute:
    return schemas.Dispute.model_validate({**asdict(dispute), "status": dispute.status})


@router.get("/cases/{case_id}/disputes", summary="A case's disputes, their treatment and verification")
async def case_disputes(case_id: str, principal: Reader, api: ContactApiDep) -> schemas.CaseDisputes:
    found: CaseDisputes = await api.handle(
        commands.FindDispute(principal, case_id, None, access=CaseAccess.READ)
    )
    return schemas.CaseDisputes(
        case_id=case_id,
        validation_period_end=found.validation_period_end,
        disputes=[dispute_view(d) for d in found.disputes],
    )


@router.post(
    "/cases/{case_id}/disputes/{dispute_id}/verification",
    status_code=201,
    summary="Send the verification of a dispute (letter or e-mail); it ends a verification_pending hold",
    responses={
        404: {"description": "No such dispute on the case"},
        409: {"description": "Verified before, or the gate refused the message"},
        503: {"description": "The channel could not take it; nothing was sent"},
    },
)
async def send_verification(
    case_id: str,
    dispute_id: str,
    body: schemas.VerificationRequest,
    principal: People,
    api: ContactApiDep,
    channels: ChannelsDep,
) -> schemas.Message:
    message = await messaging.send_verification(
        api.bus,
        api.read_models,
        api.env,
        channels,
        principal,
        case_id,
        dispute_id,
        Channel(body.channel),
        tuple(body.documents),
    )
    return view(message)
