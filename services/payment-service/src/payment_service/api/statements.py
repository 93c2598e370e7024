"""`/cases/{case_id}/financial-statements`: the debtor's income and expenditure, behind every plan and
settlement agreed while it is current."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.problems import NotFound
from payment_service.adapters import case_facts, projections
from payment_service.api.deps import (
    ArrangementReader,
    Negotiator,
    PaymentApiDep,
    ReadConnection,
    read_back,
    require_case,
    require_case_for_command,
)
from payment_service.api.schemas import FinancialStatementIn, FinancialStatementOut
from payment_service.application.commands import RecordFinancialStatement
from payment_service.application.ports import PaymentEnvironment
from payment_service.domain import affordability
from payment_service.domain.calendar import local_date
from payment_service.domain.ledger import UTC_ZONE

router = APIRouter(tags=["financial statements"])


@router.post("/cases/{case_id}/financial-statements", status_code=status.HTTP_201_CREATED)
async def record_statement(
    case_id: str, body: FinancialStatementIn, api: PaymentApiDep, principal: Negotiator, response: Response
) -> FinancialStatementOut:
    """Record the debtor's income and expenditure: lines of income, fixed and flexible costs, priority
    and non-priority debts, each at its own frequency and stated per month. The newest statement of
    the last months (`statement_valid_months`, six by default) judges every plan and settlement agreed
    after it: asking more than it leaves needs a supervisor (403 supervisor-approval-required), and the
    statement's id, date and source go on the arrangement. Every line in the case's currency (422
    currency-mismatch), dated no later than the debtor's today (422 invalid-financial-statement)."""
    await require_case_for_command(api, principal, case_id)
    statement_id: str = await api.handle(
        RecordFinancialStatement(
            case_id=case_id,
            statement_date=body.statement_date,
            source=body.source,
            household=body.household,
            lines=[(li.category, li.line_item, li.amount.to_event(), li.frequency) for li in body.lines],
            savings=body.savings.to_event() if body.savings else None,
            recorded_by=principal.subject,
        )
    )
    response.headers["Location"] = f"/cases/{case_id}/financial-statements/{statement_id}"
    row = await read_back(api, lambda conn: projections.get_statement(conn, statement_id))
    async with api.engine.connect() as conn:
        current = await _current_id(conn, api.env, case_id)
    return FinancialStatementOut.from_row(row, current=row["statement_id"] == current)


@router.get("/cases/{case_id}/financial-statements")
async def list_statements(
    case_id: str,
    conn: ReadConnection,
    api: PaymentApiDep,
    principal: ArrangementReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FinancialStatementOut]:
    """The case's statements, newest first; `current` marks the one that judges arrangements now."""
    await require_case(conn, principal, case_id)
    rows = await projections.list_statements(conn, case_id, limit)
    current = await _current_id(conn, api.env, case_id, rows)
    return [FinancialStatementOut.from_row(r, current=r["statement_id"] == current) for r in rows]


@router.get("/cases/{case_id}/financial-statements/{statement_id}")
async def get_statement(
    case_id: str, statement_id: str, conn: ReadConnection, api: PaymentApiDep, principal: ArrangementReader
) -> FinancialStatementOut:
    await require_case(conn, principal, case_id)
    row = await projections.get_statement(conn, statement_id)
    if row is None or row["case_id"] != case_id:
        raise NotFound(f"no financial statement {statement_id} on case {case_id}")
    current = await _current_id(conn, api.env, case_id)
    return FinancialStatementOut.from_row(row, current=row["statement_id"] == current)


async def _current_id(
    conn: AsyncConnection,
    env: PaymentEnvironment,
    case_id: str,
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> str | None:
    """The statement the ledger judges arrangements by today: the newest (by date, then as recorded)
    within the valid months of the debtor's today."""
    facts = await case_facts.get(conn, case_id)
    today = local_date(env.now(), facts.time_zone if facts else UTC_ZONE)
    if rows is None:
        rows = await projections.list_statements(conn, case_id, 500)
    months = env.policy.statement_valid_months
    return next(
        (
            r["statement_id"]
            for r in rows
            if affordability.is_current(r["statement_date"], today, months)
            and (facts is None or r["currency"] == facts.currency)
        ),
        None,
    )
