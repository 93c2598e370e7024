"""/cases/{case_id}/contacts and /cases/{case_id}/contact-options: a case's contact history with the
gate's decisions, and which channels the gate allows now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from contact_service.api import schemas
from contact_service.api.deps import ContactApiDep, Reader
from contact_service.application import queries
from dcp_platform.auth import CaseAccess
from dcp_platform.disclosure import Unmask, UnmaskReason

router = APIRouter(prefix="/cases/{case_id}", tags=["cases"])


@router.get("/contacts", summary="Contact history of a case, with the gate's decisions")
async def case_contacts(
    case_id: str,
    principal: Reader,
    api: ContactApiDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    unmask: Unmask = False,
    reason: UnmaskReason = None,
) -> schemas.CaseContacts:
    """Contact points are masked for roles outside PII_ROLES; an auditor may ask to see them with
    `unmask=true` and a `reason` (recorded as `PersonalDataDisclosed` first)."""
    async with api.reading() as reads:
        await queries.known_case(reads, case_id, principal, CaseAccess.READ)
        rows = await reads.contacts_of_case(case_id, limit)
    reveal = await api.disclosures.reveals(
        principal, case_id, "GET /cases/{case_id}/contacts", unmask, reason
    )
    return schemas.CaseContacts(
        case_id=case_id,
        contacts=[
            schemas.ContactRecord.model_validate(
                {
                    **row,
                    "contact_point": api.shown_to(
                        principal, {"contact_point": row["contact_point"]}, reveal=reveal
                    )["contact_point"],
                    "rule_pack_id": row["pack_id"],
                    "rule_pack_version": row["pack_version"],
                }
            )
            for row in rows
        ],
    )


@router.get("/contact-options", summary="Which channels the gate allows for the case now")
async def case_contact_options(
    case_id: str, principal: Reader, api: ContactApiDep
) -> schemas.CaseContactOptions:
    async with api.reading() as reads:
        case = await queries.known_case(reads, case_id, principal, CaseAccess.READ)
        options = await queries.case_options(reads, case, api.env.now())
    return schemas.CaseContactOptions(case_id=case_id, channels=schemas.channel_options(options))
