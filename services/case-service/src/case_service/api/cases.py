"""/cases: open, read, list, and the commands on one case."""

from __future__ import annotations

import uuid
from datetime import UTC, date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import queries
from case_service.api.deps import (
    CaseApi,
    CaseApiDep,
    CaseWorker,
    ExpectedVersion,
    Placer,
    Reader,
    Supervisor,
)
from case_service.api.schemas import (
    AddCharge,
    AssignCase,
    CasePage,
    CaseView,
    ChangeStage,
    CloseCase,
    OpenCase,
    PlaceHold,
)
from case_service.application import commands
from case_service.application.commands import Placement
from case_service.domain.ageing import days_past_due
from dcp_events.catalogue.base import MAX_MINOR, Money
from dcp_events.catalogue.enums import BalanceChangeReason
from dcp_platform.auth import (
    CaseAccess,
    CaseAssignment,
    Principal,
    Role,
    collector_assignees,
    may_act_for_creditor,
    require_case_access,
)
from dcp_platform.disclosure import Unmask, UnmaskReason
from dcp_platform.horizon import HorizonDep
from dcp_platform.problems import BadRequest, Forbidden, NotFound

router = APIRouter(prefix="/cases", tags=["cases"])


def _limitation(row: dict[str, Any], today: date) -> tuple[date | None, bool]:
    """The case's time-bar date (from its detail document) and whether the debt is barred `today`."""
    dated = (row.get("detail") or {}).get("limitation") or {}
    raw = dated.get("time_barred_at") or row.get("limitation_time_barred_at")
    barred_at = date.fromisoformat(raw) if raw else None
    return barred_at, barred_at is not None and today >= barred_at


def _view(row: dict[str, Any], service: CaseApi, *, detail: bool) -> CaseView:
    time_barred_at, time_barred = _limitation(row, service.today())
    return CaseView(
        case_id=row["case_id"],
        version=row["version"],
        status=row["status"],
        stage=row["stage"],
        bucket=row["bucket"],
        days_past_due=days_past_due(row["due_since"], service.today()) if row["status"] == "open" else 0,
        due_since=row["due_since"],
        time_barred_at=time_barred_at,
        time_barred=time_barred,
        balance=Money(amount_minor=row["balance_minor"], currency=row["currency"]),
        jurisdiction=row["jurisdiction"],
        product=row["product"],
        creditor_id=row["creditor_id"],
        account_reference=row["account_reference"],
        risk_score=row["risk_score"],
        assignee=(
            {"kind": row["assignee_kind"], "id": row["assignee_id"]}
            if row["assignee_id"] is not None
            else None
        ),
        segment=row["segment"],
        strategy_id=row["strategy_id"],
        experiment_id=row["experiment_id"],
        experiment_arm=row["experiment_arm"],
        active_holds=row["active_holds"],
        close_reason=row["close_reason"],
        opened_at=row["opened_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
        detail=row.get("detail") if detail else None,
    )


async def _visible_row(
    conn: AsyncConnection, case_id: str, principal: Principal, access: CaseAccess = CaseAccess.READ
) -> dict[str, Any]:
    """The case's row, if the platform's case-access rule lets the caller see (or act on) it."""
    row = await queries.case_summary(conn, case_id)
    if row is None:
        raise NotFound(f"no case {case_id}")
    assignment = CaseAssignment(case_id, row["assignee_kind"], row["assignee_id"], row["creditor_id"])
    if principal.creditors is not None and row["creditor_id"] not in principal.creditors:
        raise NotFound(f"no case {case_id}")  # another creditor's case does not exist for this caller
    require_case_access(principal, assignment, access)
    return row


async def _creditors_case(service: CaseApi, case_id: str, principal: Principal) -> None:
    """For a caller acting for some creditors only: the case must be one of theirs (else it does not
    exist for them: 404). Roles scoped per case check it with `_visible_row`."""
    if principal.creditors is None:
        return
    async with service.engine.connect() as conn:
        await _visible_row(conn, case_id, principal, CaseAccess.ACT)


async def _answer(service: CaseApi, case_id: str, response: Response) -> CaseView:
    async with service.engine.connect() as conn:
        row = await queries.case_summary(conn, case_id)
    assert row is not None
    response.headers["ETag"] = f'"{row["version"]}"'
    return _view(row, service, detail=True)


@router.post("", status_code=201)
async def open_case(body: OpenCase, principal: Placer, service: CaseApiDep, response: Response) -> CaseView:
    """Open a case. The same creditor + account reference always maps to the same case: a repeated
    placement answers 200 with the existing case and opens nothing."""
    today = service.today()
    if not may_act_for_creditor(principal, body.account.creditor_id):
        raise Forbidden(f"this caller does not act for creditor {body.account.creditor_id}")
    if body.due_since is None and body.days_past_due is None:
        raise BadRequest("give due_since or days_past_due")
    placement = Placement(
        debtor=body.debtor,
        account=body.account,
        amounts=body.amounts,
        due_since=body.due_since or today - timedelta(days=body.days_past_due or 0),
        jurisdiction=body.jurisdiction,
        risk_score=body.risk_score,
        placement_id=body.placement_id,
    )
    case_id = placement.case_id
    if not await service.handle(commands.OpenCase(placement)):
        response.status_code = 200
    response.headers["Location"] = f"/cases/{case_id}"
    return await _answer(service, case_id, response)


@router.get("")
async def list_cases(
    principal: Reader,
    service: CaseApiDep,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    stage: Annotated[str | None, Query()] = None,
    bucket: Annotated[str | None, Query()] = None,
    assignee: Annotated[str | None, Query(description="collector, team or agency id")] = None,
    jurisdiction: Annotated[str | None, Query()] = None,
    currency: Annotated[str | None, Query()] = None,
    balance_min: Annotated[int | None, Query(ge=0, le=MAX_MINOR, description="minor units")] = None,
    balance_max: Annotated[int | None, Query(ge=0, le=MAX_MINOR, description="minor units")] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CasePage:
    """Cases by filter, in case id order; pass `next_cursor` back as `cursor` for the next page.
    A collector sees only the cases assigned to them, their team or their agency."""
    flt = queries.CaseFilter(
        status=status,
        stage=stage,
        bucket=bucket,
        assignee_id=assignee,
        jurisdiction=jurisdiction,
        currency=currency,
        balance_min=balance_min,
        balance_max=balance_max,
    )
    if principal.creditors is not None:
        flt = queries.CaseFilter(**{**flt.__dict__, "creditors": tuple(sorted(principal.creditors))})
    if principal.role is Role.COLLECTOR:
        mine = collector_assignees(principal)
        if assignee is not None and assignee not in {ident for _, ident in mine}:
            raise Forbidden("collectors see only the cases assigned to them, their team or their agency")
        flt = queries.CaseFilter(**{**flt.__dict__, "assigned_to_any": tuple(sorted(mine))})
    try:
        after = queries.decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise BadRequest("the cursor is not one this API returned") from exc
    async with service.engine.connect() as conn:
        rows, next_cursor = await queries.list_cases(conn, flt, after=after, limit=limit)
    return CasePage(items=[_view(r, service, detail=False) for r in rows], next_cursor=next_cursor)


@router.get("/{case_id}")
async def get_case(
    case_id: str,
    principal: Reader,
    service: CaseApiDep,
    response: Response,
    unmask: Unmask = False,
    reason: UnmaskReason = None,
) -> CaseView:
    """The case. Personal data is masked for roles outside PII_ROLES; an auditor may ask to see it
    with `unmask=true` and a `reason` (recorded as `PersonalDataDisclosed` first)."""
    async with service.engine.connect() as conn:
        row = await _visible_row(conn, case_id, principal)
    reveal = await service.disclosures.reveals(principal, case_id, "GET /cases/{case_id}", unmask, reason)
    response.headers["ETag"] = f'"{row["version"]}"'
    view = _view(row, service, detail=True)
    if view.detail is not None:
        view.detail = service.shown_to(principal, view.detail, reveal=reveal)
    return view


@router.get("/{case_id}/events")
async def case_events(
    case_id: str,
    principal: Reader,
    service: CaseApiDep,
    unmask: Unmask = False,
    reason: UnmaskReason = None,
) -> list[dict[str, Any]]:
    """The case's full history as CloudEvents, oldest first (personal data as on `GET /cases/{id}`)."""
    async with service.engine.connect() as conn:
        await _visible_row(conn, case_id, principal)
        history = await service.store.load(case_id, conn=conn)
    reveal = await service.disclosures.reveals(
        principal, case_id, "GET /cases/{case_id}/events", unmask, reason
    )
    return [
        {
            **r.cloudevent_attributes(),
            "data": service.shown_to(principal, r.cloudevent_attributes().get("data"), reveal=reveal),
            "recordedat": r.recorded_at.astimezone(UTC).isoformat(),
        }
        for r in history
    ]


@router.post("/{case_id}/assignment")
async def assign_case(
    case_id: str,
    body: AssignCase,
    principal: Supervisor,
    service: CaseApiDep,
    version: ExpectedVersion,
    response: Response,
) -> CaseView:
    """Assign by policy: round_robin (within `team`), least_loaded, agency_at_stage, recall, direct."""
    await _creditors_case(service, case_id, principal)
    try:
        await service.handle(
            commands.AssignCase(case_id, body.policy, body.team, body.assignee_id, body.reason, version)
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    return await _answer(service, case_id, response)


@router.post("/{case_id}/stage")
async def change_stage(
    case_id: str,
    body: ChangeStage,
    principal: Supervisor,
    service: CaseApiDep,
    version: ExpectedVersion,
    response: Response,
) -> CaseView:
    await _creditors_case(service, case_id, principal)
    await service.handle(commands.ChangeStage(case_id, body.to_stage, body.reason, version))
    return await _answer(service, case_id, response)


@router.post("/{case_id}/holds", status_code=201)
async def place_hold(
    case_id: str,
    body: PlaceHold,
    principal: CaseWorker,
    service: CaseApiDep,
    version: ExpectedVersion,
    response: Response,
    horizon: HorizonDep,
) -> CaseView:
    horizon.check(**{"body.expires_at": body.expires_at})
    async with service.engine.connect() as conn:
        await _visible_row(conn, case_id, principal, CaseAccess.ACT)
    hold_id = body.hold_id or str(uuid.uuid4())
    await service.handle(
        commands.PlaceHold(
            case_id,
            hold_id,
            body.hold_type,
            reason=body.reason,
            expires_at=body.expires_at.astimezone(UTC) if body.expires_at else None,
            evidence_ref=body.evidence_ref,
            expected_version=version,
        )
    )
    response.headers["Location"] = f"/cases/{case_id}/holds/{hold_id}"
    return await _answer(service, case_id, response)


@router.delete("/{case_id}/holds/{hold_id}")
async def release_hold(
    case_id: str,
    hold_id: str,
    principal: Supervisor,
    service: CaseApiDep,
    version: ExpectedVersion,
    response: Response,
    reason: Annotated[str, Query(min_length=1, max_length=500)] = "released by a supervisor",
) -> CaseView:
    await _creditors_case(service, case_id, principal)
    await service.handle(commands.ReleaseHold(case_id, hold_id, reason, version))
    return await _answer(service, case_id, response)


@router.post("/{case_id}/charges")
async def add_charge(
    case_id: str,
    body: AddCharge,
    principal: Placer,
    service: CaseApiDep,
    version: ExpectedVersion,
    response: Response,
) -> CaseView:
    """Interest, a fee or legal costs the creditor adds to the debt, into that part of the balance.
    Refused (409 charges-frozen, with the rule and its citation) while a hold freezes interest and
    charges: GB breathing space and mental health crisis moratoria, a US bankruptcy stay."""
    await _creditors_case(service, case_id, principal)
    reason = {
        "interest": BalanceChangeReason.INTEREST,
        "fee": BalanceChangeReason.FEE,
        "costs": BalanceChangeReason.COSTS,
    }
    await service.handle(
        commands.AddCharge(case_id, reason[body.reason], body.amount, body.reference, version)
    )
    return await _answer(service, case_id, response)


@router.post("/{case_id}/close")
async def close_case(
    case_id: str,
    body: CloseCase,
    principal: Supervisor,
    service: CaseApiDep,
    version: ExpectedVersion,
    response: Response,
) -> CaseView:
    await _creditors_case(service, case_id, principal)
    await service.handle(commands.CloseCase(case_id, body.reason, body.note, version))
    return await _answer(service, case_id, response)
