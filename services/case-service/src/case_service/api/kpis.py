"""/kpis: portfolio, collector and strategy measures. Definitions: services/case-service/README.md."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from case_service.adapters import queries
from case_service.api.deps import Analyst, CaseApiDep
from dcp_platform.auth import creditor_scope
from dcp_platform.problems import BadRequest

router = APIRouter(prefix="/kpis", tags=["kpis"])

COLLECTOR_MEASURES_NOTE = (
    "Collectors are never assessed on recovery alone (CN-CBRC-NO-PURE-RECOVERY-KPI): amount recovered is"
    " reported only next to contact quality (right-party-contact rate) and promise measures."
)


def _period(
    service: CaseApiDep,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
) -> tuple[datetime, datetime]:
    # Periods are half-open [from, to); by default they run the 30 days through the present moment.
    end = end or service.clock.now() + timedelta(microseconds=1)
    start = start or end - timedelta(days=30)
    if start >= end:
        raise BadRequest("`from` must be before `to`")
    return start, end


Period = Annotated[tuple[datetime, datetime], Depends(_period)]


@router.get("/portfolio")
async def portfolio(
    principal: Analyst,
    service: CaseApiDep,
    period: Period,
) -> dict[str, Any]:
    """Open cases and balance per bucket and stage; roll and cure rates over [from, to) (default 30 days)."""
    start, end = period
    async with service.engine.connect() as conn:
        return await queries.portfolio(conn, start, end, creditor_scope(principal))


@router.get("/collectors")
async def collectors(
    principal: Analyst,
    service: CaseApiDep,
    period: Period,
) -> dict[str, Any]:
    start, end = period
    async with service.engine.connect() as conn:
        items = await queries.collectors(conn, start, end, creditor_scope(principal))
    return {"period": {"from": start, "to": end}, "note": COLLECTOR_MEASURES_NOTE, "collectors": items}


@router.get("/legal")
async def legal(principal: Analyst, service: CaseApiDep) -> dict[str, Any]:
    """The legal stage per currency: referred, claims, judgments (and their sum), enforcement, the
    costs added and the amount recovered through legal (paid since referral) over what was placed."""
    async with service.engine.connect() as conn:
        return {"legal": await queries.legal(conn, creditor_scope(principal))}


@router.get("/strategies")
async def strategies(principal: Analyst, service: CaseApiDep) -> dict[str, Any]:
    """Recovery rate (net amount recovered / amount placed) per strategy and experiment arm, per currency."""
    async with service.engine.connect() as conn:
        return {"strategies": await queries.strategies(conn, creditor_scope(principal))}
