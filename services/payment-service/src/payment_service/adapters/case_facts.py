"""What the payment service knows of each case, kept from case-service's events on collections.cases:
its currency, time zone, balance and closure for the ledger, and who it is assigned to for access."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.auth import CaseAssignment
from dcp_platform.values import from_fields
from payment_service.adapters.tables import case_facts
from payment_service.application.ports import CaseRecord
from payment_service.domain.ledger import CaseFacts


async def get(conn: AsyncConnection, case_id: str, *, for_update: bool = False) -> CaseFacts | None:
    query = select(case_facts).where(case_facts.c.case_id == case_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return from_fields(CaseFacts, row)


# Built once at import, executed with parameters (the statements of the case-event hot path).
_OPENED_COLUMNS = (
    "currency",
    "balance_minor",
    "time_zone",
    "jurisdiction",
    "closed",
    "updated_at",
    "creditor_id",
)
_inserted = insert(case_facts)
_UPSERT_OPENED = _inserted.on_conflict_do_update(
    index_elements=[case_facts.c.case_id], set_={k: _inserted.excluded[k] for k in _OPENED_COLUMNS}
)
_by_id = update(case_facts).where(case_facts.c.case_id == bindparam("id"))
_BALANCE = _by_id.values(balance_minor=bindparam("balance_minor"), updated_at=bindparam("updated_at"))
_CLOSED = _by_id.values(
    closed=True, balance_minor=bindparam("balance_minor"), updated_at=bindparam("updated_at")
)
_ASSIGNED = _by_id.values(
    assignee_kind=bindparam("assignee_kind"),
    assignee_id=bindparam("assignee_id"),
    updated_at=bindparam("updated_at"),
)


_RECORD_COLUMNS = (*_OPENED_COLUMNS, "assignee_kind", "assignee_id")
_UPSERT_RECORDS = _inserted.on_conflict_do_update(
    index_elements=[case_facts.c.case_id], set_={k: _inserted.excluded[k] for k in _RECORD_COLUMNS}
)
_RECORDS = select(case_facts).where(case_facts.c.case_id.in_(bindparam("ids", expanding=True)))


async def lock(conn: AsyncConnection, case_ids: Sequence[str]) -> None:
    """Per-case transaction locks, taken in a stable order (no deadlock between two batches)."""
    for case_id in sorted(set(case_ids)):
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:id, 7002))"), {"id": case_id})


async def records(conn: AsyncConnection, case_ids: Sequence[str]) -> dict[str, CaseRecord]:
    if not case_ids:
        return {}
    rows = await conn.execute(_RECORDS, {"ids": list(case_ids)})
    return {
        row.case_id: CaseRecord(
            from_fields(CaseFacts, row),
            None if row.assignee_kind is None else (row.assignee_kind, row.assignee_id),
        )
        for row in rows
    }


async def save_records(conn: AsyncConnection, records: Sequence[CaseRecord], at: datetime) -> None:
    """Each record whole, in one multi-row upsert."""
    if not records:
        return
    values = [
        {
            "case_id": r.facts.case_id,
            "currency": r.facts.currency,
            "balance_minor": r.facts.balance_minor,
            "time_zone": r.facts.time_zone,
            "jurisdiction": r.facts.jurisdiction,
            "closed": r.facts.closed,
            "creditor_id": r.facts.creditor_id,
            "assignee_kind": None if r.assignee is None else r.assignee[0],
            "assignee_id": None if r.assignee is None else r.assignee[1],
            "updated_at": at,
        }
        for r in records
    ]
    await conn.execute(_UPSERT_RECORDS, values)


async def record_opened(conn: AsyncConnection, facts: CaseFacts, at: datetime) -> None:
    values = {
        "case_id": facts.case_id,
        "currency": facts.currency,
        "balance_minor": facts.balance_minor,
        "time_zone": facts.time_zone,
        "jurisdiction": facts.jurisdiction,
        "closed": facts.closed,
        "creditor_id": facts.creditor_id,
        "updated_at": at,
    }
    await conn.execute(_UPSERT_OPENED, values)


async def record_balance(conn: AsyncConnection, case_id: str, balance_minor: int, at: datetime) -> None:
    await conn.execute(_BALANCE, {"id": case_id, "balance_minor": balance_minor, "updated_at": at})


async def record_closed(conn: AsyncConnection, case_id: str, balance_minor: int, at: datetime) -> None:
    await conn.execute(_CLOSED, {"id": case_id, "balance_minor": balance_minor, "updated_at": at})


async def record_assigned(
    conn: AsyncConnection, case_id: str, assignee_kind: str, assignee_id: str, at: datetime
) -> None:
    """The case's assignee from `CaseAssigned` (which follows its `CaseOpened` on the case's partition)."""
    values = {"id": case_id, "assignee_kind": assignee_kind, "assignee_id": assignee_id, "updated_at": at}
    await conn.execute(_ASSIGNED, values)


async def assignment(conn: AsyncConnection, case_id: str) -> CaseAssignment | None:
    """Who the case is assigned to; None for a case this service does not know (yet)."""
    c = case_facts.c
    row = (
        await conn.execute(select(c.assignee_kind, c.assignee_id, c.creditor_id).where(c.case_id == case_id))
    ).first()
    if row is None:
        return None
    return CaseAssignment(case_id, row.assignee_kind, row.assignee_id, row.creditor_id)
