"""Routes: the gate (checks and attempts), promises, debtor requests, worklists and contact history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from contact_service.adapters import projections as rm
from contact_service.api import schemas
from contact_service.application import worklist as wl
from contact_service.application.commands import AttemptRecord, ContactDesk, RequestPayloads, check_assignment
from contact_service.domain.errors import CaseUnknown
from dcp_compliance import Channel, Decision, ProposedContact
from dcp_events.catalogue.base import Money
from dcp_platform.app import ClockDep
from dcp_platform.auth import CaseAccess, Principal, Role, require_roles
from dcp_platform.problems import Forbidden

router = APIRouter(tags=["contacts"])

Staff = Annotated[
    Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.INTEGRATION))
]
Reader = Annotated[
    Principal, Depends(require_roles(Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR))
]


def get_desk(request: Request) -> ContactDesk:
    desk: ContactDesk = request.app.state.contact_desk
    return desk


Desk = Annotated[ContactDesk, Depends(get_desk)]


def _proposed(body: schemas.ContactCheck, principal: Principal) -> ProposedContact:
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
async def check_contact(body: schemas.ContactCheck, principal: Staff, desk: Desk) -> Decision:
    return await desk.check(principal, body.case_id, _proposed(body, principal))


@router.post(
    "/contact-attempts",
    status_code=201,
    summary="Gate and record a contact attempt (409 problem+json naming the rule when refused)",
    responses={409: {"description": "Refused by the compliance gate (ContactBlocked recorded)"}},
)
async def attempt_contact(
    body: schemas.ContactAttemptRequest, principal: Staff, desk: Desk, response: Response
) -> schemas.AttemptAccepted:
    record = AttemptRecord(
        attempt_id=body.attempt_id or f"att-{uuid.uuid4().hex}",
        outcome=body.outcome,
        duration_seconds=body.duration_seconds,
        recording_ref=body.recording_ref,
    )
    decision, created = await desk.attempt(principal, body.case_id, _proposed(body, principal), record)
    if not created:
        response.status_code = 200
    return schemas.AttemptAccepted(attempt_id=record.attempt_id, decision=decision)


@router.post("/promises", status_code=201, summary="Record a promise to pay")
async def make_promise(body: schemas.PromiseRequest, principal: Staff, desk: Desk) -> schemas.PromiseAccepted:
    collector = principal.subject if principal.role is Role.COLLECTOR else body.collector_id
    promise_id = await desk.promise(
        principal, body.case_id, body.amount, body.due_on, body.channel, body.attempt_id, collector
    )
    return schemas.PromiseAccepted(promise_id=promise_id)


@router.post(
    "/debtor-requests", status_code=201, summary="Record a debtor's request (dispute, cease, opt-out...)"
)
async def debtor_request(
    body: schemas.DebtorRequest, principal: Staff, desk: Desk
) -> schemas.DebtorRequestAccepted:
    make = RequestPayloads(
        kind=body.kind,
        received_via=body.received_via,
        reason=body.reason,
        channel=body.channel,
        contact_point=body.contact_point,
        windows=body.windows,
        preferred_channel=body.preferred_channel,
        disputed_amount=body.disputed_amount,
        relation=body.relation,
    )
    cases = await desk.debtor_request(principal, body.case_id, make)
    return schemas.DebtorRequestAccepted(kind=body.kind, recorded_on_cases=cases)


def _options(options: dict[Channel, Decision]) -> list[schemas.ChannelOption]:
    return [
        schemas.ChannelOption(
            channel=channel,
            allowed=d.allowed,
            rule_id=d.rule_id,
            reason=d.reason,
            next_allowed_at=d.next_allowed_at,
            note="must be recorded in full" if channel is Channel.FIELD_VISIT and d.allowed else None,
        )
        for channel, d in options.items()
    ]


@router.get("/worklist", summary="A collector's cases by priority, with the channels allowed now")
async def get_worklist(
    principal: Staff,
    desk: Desk,
    clock: ClockDep,
    collector: Annotated[str | None, Query(max_length=128)] = None,
) -> schemas.Worklist:
    who = collector or principal.subject
    if principal.role in (Role.COLLECTOR, Role.INTEGRATION) and who != principal.subject:
        raise Forbidden("A collector sees only their own worklist.")
    now = clock.now()
    items = await wl.worklist(desk.runtime.engine, who, principal if who == principal.subject else None, now)
    return schemas.Worklist(
        collector=who,
        generated_at=now,
        items=[
            schemas.WorklistEntry(
                case_id=i.case.case_id,
                debtor_id=i.case.debtor_id,
                jurisdiction=i.case.jurisdiction,
                priority_reason=i.reason,
                expected_recovery=Money(amount_minor=i.expected_recovery_minor, currency=i.case.currency),
                channels=_options(i.options),
            )
            for i in items
        ],
    )


async def _readable_case(desk: ContactDesk, case_id: str, principal: Principal) -> rm.CaseRow:
    async with desk.runtime.engine.connect() as conn:
        case = await rm.load_case(conn, case_id)
    if case is None:
        raise CaseUnknown(f"case {case_id} is not known to the contact service")
    check_assignment(principal, case, CaseAccess.READ)
    return case


@router.get("/cases/{case_id}/contacts", summary="Contact history of a case, with the gate's decisions")
async def case_contacts(
    case_id: str, principal: Reader, desk: Desk, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> schemas.CaseContacts:
    await _readable_case(desk, case_id, principal)
    async with desk.runtime.engine.connect() as conn:
        rows = await rm.contacts_of_case(conn, case_id, limit)
    return schemas.CaseContacts(
        case_id=case_id,
        contacts=[
            schemas.ContactRecord.model_validate(
                {**row, "rule_pack_id": row["pack_id"], "rule_pack_version": row["pack_version"]}
            )
            for row in rows
        ],
    )


@router.get("/cases/{case_id}/contact-options", summary="Which channels the gate allows for the case now")
async def case_contact_options(
    case_id: str, principal: Reader, desk: Desk, clock: ClockDep
) -> schemas.CaseContactOptions:
    case = await _readable_case(desk, case_id, principal)
    options = await wl.case_options(desk.runtime.engine, case, clock.now())
    return schemas.CaseContactOptions(case_id=case_id, channels=_options(options))
