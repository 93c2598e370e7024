"""/contact-permits: the gate in front of the contact. A permit is asked for before the call, e-mail,
SMS or letter (409 naming the rule when refused), the outcome is recorded on it after; its public
keys are served for offline checks. /dialer/permits: a batch of permits for a worklist."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from contact_service.api import schemas
from contact_service.api.contacts import proposed_contact
from contact_service.api.deps import ContactApiDep, Staff
from contact_service.application import commands, queries
from contact_service.application.permits import new_permit_id
from contact_service.application.ports import CaseRow, PermitRecord
from contact_service.domain.errors import CaseNotAssigned, ContactRefused, PermitUnknown
from dcp_compliance import ProposedContact
from dcp_compliance.permits import public_key_document
from dcp_events.catalogue.enums import Channel
from dcp_platform.auth import CaseAccess, Principal, Role, require_roles
from dcp_platform.problems import Forbidden

router = APIRouter(tags=["permits"])

KeyReaders = Annotated[
    Principal,
    Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.DIALER, Role.AUDITOR)),
]
"""Who checks permits offline: the dialers and gateways that make contacts, and auditors."""


def permit_view(api: Any, principal: Principal, permit: PermitRecord) -> schemas.Permit:
    return schemas.Permit.model_validate(
        {
            **permit.row(),
            "contact_point": api.shown_to(principal, {"contact_point": permit.contact_point})[
                "contact_point"
            ],
            "rule_pack_id": permit.pack_id,
            "rule_pack_version": permit.pack_version,
        }
    )


@router.post(
    "/contact-permits",
    status_code=201,
    summary="Ask the gate before a contact: a signed single-use permit, or 409 naming the rule",
    responses={409: {"description": "Refused by the compliance gate (ContactBlocked recorded)"}},
)
async def request_permit(
    body: schemas.PermitRequest, principal: Staff, api: ContactApiDep, response: Response
) -> schemas.Permit:
    answer: commands.PermitAnswer = await api.handle(
        commands.IssuePermit(
            principal, body.case_id, proposed_contact(body, principal), body.permit_id or new_permit_id()
        )
    )
    answer.raise_if_refused()  # 409, with the ContactBlocked already committed
    assert answer.permit is not None
    if not answer.created:
        response.status_code = 200
    return permit_view(api, principal, answer.permit)


@router.get("/contact-permits/{permit_id}", summary="A permit and whether it was used or expired")
async def get_permit(permit_id: str, principal: Staff, api: ContactApiDep) -> schemas.Permit:
    async with api.reading() as reads:
        permit = await reads.find_permit(permit_id)
        if permit is None:
            raise PermitUnknown(f"no permit {permit_id}")
        await queries.known_case(reads, permit.case_id, principal, CaseAccess.READ)
    return permit_view(api, principal, permit)


@router.post(
    "/contact-permits/{permit_id}/outcome",
    status_code=201,
    summary="Record the contact made on a permit (409 when the permit was used or had expired)",
    responses={
        409: {"description": "The permit was used before or had expired; the contact is recorded anyway"}
    },
)
async def record_outcome(
    permit_id: str,
    body: schemas.PermitOutcomeRequest,
    principal: Staff,
    api: ContactApiDep,
    response: Response,
) -> schemas.PermitOutcomeAccepted:
    answer: commands.OutcomeAnswer = await api.handle(
        commands.RecordPermitOutcome(
            principal,
            permit_id,
            body.attempt_id or f"att-{permit_id}",
            body.outcome,
            body.duration_seconds,
            body.recording_ref,
        )
    )
    answer.raise_if_spent()  # 409 permit-used / permit-expired, with the contact already recorded
    if not answer.created:
        response.status_code = 200
    return schemas.PermitOutcomeAccepted(
        attempt_id=answer.attempt_id, permit_id=answer.permit_id, contacted_at=answer.contacted_at
    )


@router.get("/contact-permit-keys", summary="The public keys that check permits offline")
async def permit_keys(_principal: KeyReaders, api: ContactApiDep) -> schemas.PermitKeys:
    return schemas.PermitKeys(keys=[schemas.PermitKey(**public_key_document(api.env.signer.public_key))])


def dial_point(case: CaseRow, channel: Channel) -> str | None:
    """The number a dialer calls: the first of the debtor's points for the channel not opted out."""
    opted = {o.contact_point for o in case.facts.opt_outs if o.channel is channel}
    if None in opted:
        return None
    for point in case.facts.contact_points:
        if channel in point.usable_for and point.value not in opted:
            return point.value
    return None


@router.post(
    "/dialer/permits",
    summary="Permits for the next calls of a worklist, in its order (refused cases listed with the rule)",
)
async def dialer_permits(
    body: schemas.DialerPermitRequest, principal: Staff, api: ContactApiDep
) -> schemas.DialerPermits:
    if principal.role is Role.COLLECTOR and body.collector_id != principal.subject:
        raise Forbidden("A collector dials only their own worklist.")
    channel = Channel(body.channel)
    now = api.env.now()
    async with api.reading() as reads:
        items = await queries.worklist(reads, body.collector_id, None, now, api.env.fx)
    permits: list[schemas.Permit] = []
    skipped: list[schemas.DialerSkip] = []
    for item in items:
        if len(permits) >= body.limit:
            break
        option = item.options.get(channel)
        point = dial_point(item.case, channel)
        if option is None or not option.allowed or point is None:
            skipped.append(
                schemas.DialerSkip(
                    case_id=item.case.case_id,
                    rule_id=option.rule_id if option is not None and not option.allowed else None,
                    reason=(
                        option.reason if option is not None and not option.allowed else "no number to call"
                    ),
                    next_allowed_at=option.next_allowed_at if option is not None else None,
                )
            )
            continue
        proposed = ProposedContact(
            channel=channel,
            contact_point=point,
            collector_id=body.collector_id,
            agency_id=principal.agency_id,
        )
        try:
            answer: commands.PermitAnswer = await api.handle(
                commands.IssuePermit(principal, item.case.case_id, proposed, new_permit_id())
            )
            answer.raise_if_refused()
        except ContactRefused as refused:  # the history moved since the worklist was read
            d = refused.decision
            skipped.append(
                schemas.DialerSkip(
                    case_id=item.case.case_id,
                    rule_id=d.rule_id,
                    reason=d.reason,
                    next_allowed_at=d.next_allowed_at,
                )
            )
            continue
        except CaseNotAssigned:
            continue  # not this dialer's agency's case
        assert answer.permit is not None
        permits.append(permit_view(api, principal, answer.permit))
    return schemas.DialerPermits(collector_id=body.collector_id, permits=permits, skipped=skipped)
