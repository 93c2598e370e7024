"""/contact-checks and /contact-attempts: the compliance gate, as a dry run or recording the attempt."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep, Staff
from contact_service.application import commands
from dcp_compliance import Decision, ProposedContact
from dcp_platform.auth import Principal, Role

router = APIRouter(tags=["contacts"])


def proposed_contact(body: schemas.ContactCheck, principal: Principal) -> ProposedContact:
    # A collector acts as themself; supervisors and dialers name the collector.
    collector = principal.subject if principal.role is Role.COLLECTOR else body.collector_id
    return ProposedContact(
        channel=body.channel,
        party=body.party,
        purpose=body.purpose,
        contact_point=body.contact_point,
        recording_ref=body.recording_ref,
        discloses_debt=body.discloses_debt,
        at_workplace=body.at_workplace,
        collector_id=collector,
        agency_id=principal.agency_id,
    )


@router.post("/contact-checks", summary="Dry-run the compliance gate (nothing is recorded)")
async def check_contact(body: schemas.ContactCheck, principal: Staff, api: ContactApiDep) -> Decision:
    decision: Decision = await api.handle(
        commands.CheckContact(principal, body.case_id, proposed_contact(body, principal))
    )
    return decision


@router.post(
    "/contact-attempts",
    status_code=201,
    summary="Gate and record a contact attempt (409 problem+json naming the rule when refused)",
    responses={409: {"description": "Refused by the compliance gate (ContactBlocked recorded)"}},
)
async def attempt_contact(
    body: schemas.ContactAttemptRequest, principal: Staff, api: ContactApiDep, response: Response
) -> schemas.AttemptAccepted:
    answer: commands.AttemptAnswer = await api.handle(
        commands.RecordAttempt(
            principal=principal,
            case_id=body.case_id,
            proposed=proposed_contact(body, principal),
            attempt_id=body.attempt_id or f"att-{uuid.uuid4().hex}",
            outcome=body.outcome,
            duration_seconds=body.duration_seconds,
        )
    )
    answer.raise_if_refused()  # 409, with the ContactBlocked already committed
    if not answer.created:
        response.status_code = 200
    return schemas.AttemptAccepted(attempt_id=answer.attempt_id, decision=answer.decision)
