"""`/promises`, `/payment-plans` and `/settlements`: what the debtor agreed to pay, and how it goes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from dcp_platform.horizon import HorizonDep
from payment_service.adapters import projections
from payment_service.api.deps import (
    SUPERVISOR_ROLES,
    ArrangementReader,
    Negotiator,
    PaymentApiDep,
    ReadConnection,
    read_back,
    require_case_filter,
    require_case_for_command,
    visible_row,
)
from payment_service.api.schemas import PlanIn, PlanOut, PromiseOut, SettlementIn, SettlementOut
from payment_service.application.commands import AgreePlan, AgreeSettlement

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=500)]


@router.get("/promises", tags=["promises"])
async def list_promises(
    conn: ReadConnection,
    principal: ArrangementReader,
    case_id: str | None = None,
    status_filter: Annotated[Literal["open", "kept", "broken"] | None, Query(alias="status")] = None,
    limit: Limit = 100,
) -> list[PromiseOut]:
    """Promises to pay made during contacts, and whether they were kept. A collector gives `case_id`."""
    await require_case_filter(conn, principal, case_id)
    rows = await projections.list_promises(conn, case_id=case_id, status=status_filter, limit=limit)
    return [PromiseOut.from_row(r) for r in rows]


@router.get("/promises/{promise_id}", tags=["promises"])
async def get_promise(promise_id: str, conn: ReadConnection, principal: ArrangementReader) -> PromiseOut:
    row = await projections.get_promise(conn, promise_id)
    return PromiseOut.from_row(await visible_row(conn, principal, row, f"promise {promise_id}"))


@router.post("/payment-plans", status_code=status.HTTP_201_CREATED, tags=["payment plans"])
async def agree_plan(
    body: PlanIn, api: PaymentApiDep, principal: Negotiator, response: Response, horizon: HorizonDep
) -> PlanOut:
    """Agree a repayment plan: explicit `installments`, or a regular `schedule`. The installments add
    up to `total`, none is in the past, the term is within the maximum, one active plan per case.
    A term or discount above the collector's limits needs a supervisor (403 supervisor-approval-required).
    A collector agrees plans only on cases assigned to them, their team or agency (403 otherwise)."""
    if body.schedule is not None:  # first: a schedule from a date near the calendar's end cannot be laid out
        horizon.check(**{"body.schedule.first_due_on": body.schedule.first_due_on})
    installments = body.installment_list()
    at = "body.installments" if body.installments is not None else "body.schedule"
    horizon.check(**{f"{at}.{i}.due_on": due for i, (due, _) in enumerate(installments)})
    await require_case_for_command(api, principal, body.case_id)
    plan_id: str = await api.handle(
        AgreePlan(
            case_id=body.case_id,
            total=body.total.to_event(),
            installments=installments,
            by_supervisor=principal.role in SUPERVISOR_ROLES,
            channel=body.channel,
            collector_id=principal.subject,
        )
    )
    response.headers["Location"] = f"/payment-plans/{plan_id}"
    row = await read_back(api, lambda conn: projections.get_plan(conn, plan_id))
    return PlanOut.from_row(row)


@router.get("/payment-plans", tags=["payment plans"])
async def list_plans(
    conn: ReadConnection,
    principal: ArrangementReader,
    case_id: str | None = None,
    status_filter: Annotated[Literal["active", "completed", "broken"] | None, Query(alias="status")] = None,
    limit: Limit = 100,
) -> list[PlanOut]:
    await require_case_filter(conn, principal, case_id)
    rows = await projections.list_plans(conn, case_id=case_id, status=status_filter, limit=limit)
    return [PlanOut.from_row(r) for r in rows]


@router.get("/payment-plans/{plan_id}", tags=["payment plans"])
async def get_plan(plan_id: str, conn: ReadConnection, principal: ArrangementReader) -> PlanOut:
    row = await projections.get_plan(conn, plan_id)
    return PlanOut.from_row(await visible_row(conn, principal, row, f"payment plan {plan_id}"))


@router.post("/settlements", status_code=status.HTTP_201_CREATED, tags=["settlements"])
async def agree_settlement(
    body: SettlementIn, api: PaymentApiDep, principal: Negotiator, response: Response, horizon: HorizonDep
) -> SettlementOut:
    """Agree a discounted payoff with a deadline. Paid in full in time: `SettlementPaid` (the case
    closes as settled); otherwise it lapses. Discounts or deadlines above the collector's limits
    need a supervisor. A collector agrees only on cases assigned to them, their team or agency."""
    horizon.check(**{"body.due_on": body.due_on})
    await require_case_for_command(api, principal, body.case_id)
    settlement_id: str = await api.handle(
        AgreeSettlement(
            case_id=body.case_id,
            amount=body.amount.to_event(),
            due_on=body.due_on,
            by_supervisor=principal.role in SUPERVISOR_ROLES,
            collector_id=principal.subject,
        )
    )
    response.headers["Location"] = f"/settlements/{settlement_id}"
    row = await read_back(api, lambda conn: projections.get_settlement(conn, settlement_id))
    return SettlementOut.from_row(row)


@router.get("/settlements", tags=["settlements"])
async def list_settlements(
    conn: ReadConnection,
    principal: ArrangementReader,
    case_id: str | None = None,
    status_filter: Annotated[Literal["active", "paid", "lapsed"] | None, Query(alias="status")] = None,
    limit: Limit = 100,
) -> list[SettlementOut]:
    await require_case_filter(conn, principal, case_id)
    rows = await projections.list_settlements(conn, case_id=case_id, status=status_filter, limit=limit)
    return [SettlementOut.from_row(r) for r in rows]


@router.get("/settlements/{settlement_id}", tags=["settlements"])
async def get_settlement(
    settlement_id: str, conn: ReadConnection, principal: ArrangementReader
) -> SettlementOut:
    row = await projections.get_settlement(conn, settlement_id)
    return SettlementOut.from_row(await visible_row(conn, principal, row, f"settlement {settlement_id}"))
