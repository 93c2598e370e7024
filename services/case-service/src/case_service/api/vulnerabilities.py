"""/cases/{case_id}/vulnerabilities: flags that the debtor is vulnerable (the FCA's four drivers:
health, life event, resilience, capability), each reviewed by a date. The rule pack of the case's
jurisdiction decides what a flag changes (channels, contact cap, breathing period, specialist team).

Without the debtor's consent only the type and the fact of the flag are kept: a sub-type or a
description sent without consent is refused (422 vulnerability-details-need-consent), never silently
dropped. The details are personal data, masked for roles outside PII_ROLES and erased with the debtor.
"""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from case_service.api.cases import _visible_row
from case_service.api.deps import CaseApiDep, CaseWorker, Reader
from case_service.application import commands
from dcp_events.catalogue.base import Text
from dcp_events.catalogue.cases import (
    CaseReferredToSpecialist,
    CaseVulnerabilityFlagged,
    CaseVulnerabilityRemoved,
    CaseVulnerabilityReviewDue,
    CaseVulnerabilityReviewed,
    VulnerabilityConsent,
)
from dcp_events.catalogue.enums import VulnerabilityReviewOutcome, VulnerabilityType
from dcp_platform.auth import CaseAccess, Principal
from dcp_platform.disclosure import Unmask, UnmaskReason

router = APIRouter(prefix="/cases/{case_id}/vulnerabilities", tags=["vulnerabilities"])

_TYPES = {
    e.type_name(): e
    for e in (
        CaseVulnerabilityFlagged,
        CaseVulnerabilityReviewed,
        CaseVulnerabilityRemoved,
        CaseVulnerabilityReviewDue,
        CaseReferredToSpecialist,
    )
}


class VulnerabilityFlagRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flag_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="Idempotency key; generated if absent."
    )
    type: VulnerabilityType
    sub_type: Text | None = Field(default=None, description="Recorded only with consent.")
    description: Text | None = Field(default=None, description="Recorded only with consent.")
    consent: VulnerabilityConsent
    review_on: date | None = Field(
        default=None, description="None: the review interval of the pack's rule for the type."
    )
    source: Text = Field(description="How the platform learned of it (call, letter, adviser, ...).")


class VulnerabilityReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: VulnerabilityReviewOutcome
    review_on: date | None = Field(default=None, description="Required unless the flag is removed.")
    type: VulnerabilityType | None = Field(default=None, description="On change: the new type.")
    sub_type: Text | None = None
    description: Text | None = None
    consent: VulnerabilityConsent | None = Field(default=None, description="On change: the consent now.")
    reason: Text | None = None


class HistoryEntry(BaseModel):
    event: str
    at: AwareDatetime
    by: str | None


class FlagView(BaseModel):
    flag_id: str
    type: VulnerabilityType
    sub_type: str | None
    description: str | None
    consent: VulnerabilityConsent
    review_on: date
    review_due: bool
    recorded_by: str
    source: str
    flagged_at: AwareDatetime
    referred_to: str | None
    removed: bool
    history: list[HistoryEntry]


class CaseVulnerabilities(BaseModel):
    case_id: str
    flags: list[FlagView]


@router.post("", status_code=201, summary="Flag the debtor vulnerable (details only with consent)")
async def flag_vulnerability(
    case_id: str,
    body: VulnerabilityFlagRequest,
    principal: CaseWorker,
    service: CaseApiDep,
    response: Response,
) -> FlagView:
    async with service.engine.connect() as conn:
        await _visible_row(conn, case_id, principal, CaseAccess.ACT)
    flag_id = body.flag_id or f"vuln-{uuid.uuid4().hex[:16]}"
    await service.handle(
        commands.FlagVulnerability(
            case_id,
            flag_id,
            body.type,
            body.consent,
            principal.subject,
            body.source,
            sub_type=body.sub_type,
            description=body.description,
            review_on=body.review_on,
        )
    )
    response.headers["Location"] = f"/cases/{case_id}/vulnerabilities/{flag_id}"
    flags = await _flags(service, case_id)
    return _shown(service, principal, flags[flag_id], reveal=None)


@router.post("/{flag_id}/review", summary="Review a flag: continue to a new date, change it, or remove it")
async def review_vulnerability(
    case_id: str, flag_id: str, body: VulnerabilityReviewRequest, principal: CaseWorker, service: CaseApiDep
) -> FlagView:
    async with service.engine.connect() as conn:
        await _visible_row(conn, case_id, principal, CaseAccess.ACT)
    await service.handle(
        commands.ReviewVulnerability(
            case_id,
            flag_id,
            body.outcome,
            principal.subject,
            review_on=body.review_on,
            vulnerability_type=body.type,
            sub_type=body.sub_type,
            description=body.description,
            consent=body.consent,
            reason=body.reason,
        )
    )
    flags = await _flags(service, case_id)
    return _shown(service, principal, flags[flag_id], reveal=None)


@router.get("", summary="The case's vulnerability flags with their history (removed ones on request)")
async def list_vulnerabilities(
    case_id: str,
    principal: Reader,
    service: CaseApiDep,
    include_removed: bool = False,
    unmask: Unmask = False,
    reason: UnmaskReason = None,
) -> CaseVulnerabilities:
    async with service.engine.connect() as conn:
        await _visible_row(conn, case_id, principal)
    reveal = await service.disclosures.reveals(
        principal, case_id, "GET /cases/{case_id}/vulnerabilities", unmask, reason
    )
    shown = [
        _shown(service, principal, f, reveal=reveal)
        for f in (await _flags(service, case_id)).values()
        if include_removed or not f.removed
    ]
    return CaseVulnerabilities(case_id=case_id, flags=shown)


def _shown(service: CaseApiDep, principal: Principal, flag: FlagView, *, reveal: bool | None) -> FlagView:
    details = {"vulnerability_sub_type": flag.sub_type, "vulnerability_description": flag.description}
    masked = service.shown_to(principal, details, reveal=reveal)
    return flag.model_copy(
        update={
            "sub_type": masked["vulnerability_sub_type"],
            "description": masked["vulnerability_description"],
        }
    )


async def _flags(service: CaseApiDep, case_id: str) -> dict[str, FlagView]:
    """The case's flags as recorded, oldest first, from its stream (removed ones marked)."""
    async with service.engine.connect() as conn:
        history = await service.store.load(case_id, conn=conn)
    flags: dict[str, FlagView] = {}
    for record in history:
        kind = _TYPES.get(record.event_type)
        if kind is None:
            continue
        event = kind.model_validate(record.payload)
        if isinstance(event, CaseVulnerabilityFlagged):
            flags[event.flag_id] = FlagView(
                flag_id=event.flag_id,
                type=event.vulnerability_type,
                sub_type=event.vulnerability_sub_type,
                description=event.vulnerability_description,
                consent=event.consent,
                review_on=event.review_on,
                review_due=False,
                recorded_by=event.recorded_by,
                source=event.source,
                flagged_at=record.recorded_at,
                referred_to=None,
                removed=False,
                history=[],
            )
        flag = flags.get(getattr(event, "flag_id", ""))
        if flag is None:
            continue
        update: dict[str, object] = {}
        by: str | None = None
        if isinstance(event, CaseVulnerabilityFlagged):
            by = event.recorded_by
        elif isinstance(event, CaseVulnerabilityReviewed):
            by = event.reviewed_by
            update = {
                "type": event.vulnerability_type,
                "sub_type": event.vulnerability_sub_type,
                "description": event.vulnerability_description,
                "consent": event.consent,
                "review_on": event.review_on,
                "review_due": False,
            }
        elif isinstance(event, CaseVulnerabilityRemoved):
            by = event.removed_by
            update = {"removed": True, "review_due": False}
        elif isinstance(event, CaseVulnerabilityReviewDue):
            update = {"review_due": True}
        elif isinstance(event, CaseReferredToSpecialist):
            update = {"referred_to": event.team}
        entry = HistoryEntry(event=record.event_type, at=record.recorded_at, by=by)
        flags[flag.flag_id] = flag.model_copy(update={**update, "history": [*flag.history, entry]})
    return flags
