"""The service's query side: payments, promises, plans and settlements, written from the case
ledger in the transaction that appends its events, and read by the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_events.catalogue.base import PayloadModel
from payment_service.adapters.tables import (
    financial_statements,
    payment_plans,
    payments,
    promises,
    settlements,
)
from payment_service.domain.calendar import deadline
from payment_service.domain.ledger import ArrangementPolicy, CaseLedger, PaymentStatus

Row = Mapping[str, Any]


async def _upsert(conn: AsyncConnection, table: Table, key: str, values: dict[str, Any]) -> None:
    statement = insert(table).values(values)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c[key]], set_={k: statement.excluded[k] for k in values if k != key}
        )
    )


@dataclass(frozen=True)
class ReadModelRow:
    """One row of a read-model table, keyed by `key` (its primary key column)."""

    table: Table
    key: str
    values: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.values[self.key])


def rows(ledger: CaseLedger, policy: ArrangementPolicy, time_zone: str) -> list[ReadModelRow]:
    """The rows of what the ledger's latest events changed (`ledger.touched`), as they are now."""
    out: list[ReadModelRow] = []
    for kind, item_id in sorted(ledger.touched):
        if kind == "payment":
            p = ledger.payments[item_id]
            out.append(
                ReadModelRow(
                    payments,
                    "payment_id",
                    {
                        "payment_id": p.payment_id,
                        "case_id": ledger.case_id,
                        "external_reference": p.external_reference,
                        "amount_minor": p.amount_minor,
                        "currency": p.currency,
                        "method": p.method.value,
                        "received_at": p.received_at,
                        "status": p.status.value,
                        "unapplied_reason": p.unapplied_reason.value
                        if p.status is PaymentStatus.UNAPPLIED and p.unapplied_reason
                        else None,
                        "applied_at": p.applied_at,
                        "reversed_at": p.reversed_at,
                        "reversal_reason": p.reversal_reason.value if p.reversal_reason else None,
                    },
                )
            )
        elif kind == "promise":
            pr = ledger.promises[item_id]
            out.append(
                ReadModelRow(
                    promises,
                    "promise_id",
                    {
                        "promise_id": pr.promise_id,
                        "case_id": ledger.case_id,
                        "amount_minor": pr.amount_minor,
                        "currency": pr.currency,
                        "due_on": pr.due_on,
                        "made_at": pr.made_at,
                        "settles_at": pr.settles_at,
                        "status": pr.status.value,
                        "amount_paid_minor": pr.amount_paid_minor,
                        "settled_at": pr.settled_at,
                    },
                )
            )
        elif kind == "plan":
            plan = ledger.plans[item_id]
            allocation = ledger.allocation(plan)
            installments = []
            for i in plan.installments:
                paid = allocation.paid[i.number - 1]
                status = "paid" if paid >= i.amount_minor else ("missed" if i.missed else "open")
                installments.append(
                    {
                        "number": i.number,
                        "due_on": i.due_on.isoformat(),
                        "amount_minor": i.amount_minor,
                        "paid_minor": paid,
                        "status": status,
                        "missed": i.missed,
                        "deadline": deadline(i.due_on, policy.installment_grace_days, time_zone).isoformat(),
                    }
                )
            out.append(
                ReadModelRow(
                    payment_plans,
                    "plan_id",
                    {
                        "plan_id": plan.plan_id,
                        "case_id": ledger.case_id,
                        "currency": plan.currency,
                        "total_minor": plan.total_minor,
                        "paid_minor": allocation.total_paid,
                        "status": plan.status.value,
                        "missed_installments": plan.missed_count,
                        "installments": installments,
                        "channel": plan.channel.value if plan.channel else None,
                        "collector_id": plan.collector_id,
                        "agreed_at": plan.agreed_at,
                        "ended_at": plan.ended_at,
                        "affordability": _json(plan.affordability),
                    },
                )
            )
        elif kind == "settlement":
            s = ledger.settlements[item_id]
            settles_at = deadline(s.due_on, policy.settlement_grace_days, time_zone)
            paid = s.amount_paid_minor if s.ended_at else ledger.settlement_paid_minor(s, settles_at)[0]
            out.append(
                ReadModelRow(
                    settlements,
                    "settlement_id",
                    {
                        "settlement_id": s.settlement_id,
                        "case_id": ledger.case_id,
                        "currency": s.currency,
                        "amount_minor": s.amount_minor,
                        "balance_at_agreement_minor": s.balance_at_agreement_minor,
                        "amount_paid_minor": paid,
                        "due_on": s.due_on,
                        "settles_at": settles_at,
                        "status": s.status.value,
                        "collector_id": s.collector_id,
                        "agreed_at": s.agreed_at,
                        "ended_at": s.ended_at,
                        "affordability": _json(s.affordability),
                    },
                )
            )
        elif kind == "statement":
            fs = ledger.statements[item_id]
            out.append(
                ReadModelRow(
                    financial_statements,
                    "statement_id",
                    {
                        "statement_id": fs.statement_id,
                        "case_id": ledger.case_id,
                        "statement_date": fs.statement_date,
                        "source": fs.source.value,
                        "currency": fs.currency,
                        "monthly_income_minor": fs.income_minor,
                        "monthly_outgoings_minor": fs.outgoings_minor,
                        "monthly_non_priority_minor": fs.non_priority_minor,
                        "monthly_surplus_minor": fs.surplus_minor,
                        "monthly_available_minor": fs.available_minor,
                        "savings_minor": fs.savings_minor,
                        "household": {"adults": fs.adults, "children": fs.children, "vehicles": fs.vehicles},
                        "entries": [e.model_dump(mode="json") for e in fs.entries],
                        "recorded_by": fs.recorded_by,
                        "recorded_at": fs.recorded_at,
                    },
                )
            )
    return out


def _json(model: PayloadModel | None) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


async def save(conn: AsyncConnection, ledger: CaseLedger, policy: ArrangementPolicy, time_zone: str) -> None:
    """Write what the ledger's latest events changed."""
    for row in rows(ledger, policy, time_zone):
        await _upsert(conn, row.table, row.key, row.values)
    ledger.touched.clear()


# ---- queries -----------------------------------------------------------------------------------


async def list_payments(
    conn: AsyncConnection,
    *,
    status: str | None = None,
    case_id: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> Sequence[Row]:
    query = select(payments).order_by(payments.c.seq).limit(limit)
    if status is not None:
        query = query.where(payments.c.status == status)
    if case_id is not None:
        query = query.where(payments.c.case_id == case_id)
    if after is not None:
        query = query.where(payments.c.seq > after)
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def get_payment(conn: AsyncConnection, payment_id: str) -> Row | None:
    row = (await conn.execute(select(payments).where(payments.c.payment_id == payment_id))).first()
    return dict(row._mapping) if row is not None else None


async def _list(
    conn: AsyncConnection, table: Table, order: str, case_id: str | None, status: str | None, limit: int
) -> Sequence[Row]:
    query = select(table).order_by(table.c[order]).limit(limit)
    if case_id is not None:
        query = query.where(table.c.case_id == case_id)
    if status is not None:
        query = query.where(table.c.status == status)
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def _get(conn: AsyncConnection, table: Table, key: str, value: str) -> Row | None:
    row = (await conn.execute(select(table).where(table.c[key] == value))).first()
    return dict(row._mapping) if row is not None else None


async def list_promises(
    conn: AsyncConnection, *, case_id: str | None, status: str | None, limit: int = 100
) -> Sequence[Row]:
    return await _list(conn, promises, "made_at", case_id, status, limit)


async def get_promise(conn: AsyncConnection, promise_id: str) -> Row | None:
    return await _get(conn, promises, "promise_id", promise_id)


async def list_plans(
    conn: AsyncConnection, *, case_id: str | None, status: str | None, limit: int = 100
) -> Sequence[Row]:
    return await _list(conn, payment_plans, "agreed_at", case_id, status, limit)


async def get_plan(conn: AsyncConnection, plan_id: str) -> Row | None:
    return await _get(conn, payment_plans, "plan_id", plan_id)


async def list_settlements(
    conn: AsyncConnection, *, case_id: str | None, status: str | None, limit: int = 100
) -> Sequence[Row]:
    return await _list(conn, settlements, "agreed_at", case_id, status, limit)


async def get_settlement(conn: AsyncConnection, settlement_id: str) -> Row | None:
    return await _get(conn, settlements, "settlement_id", settlement_id)


async def list_statements(conn: AsyncConnection, case_id: str, limit: int = 100) -> Sequence[Row]:
    """The case's statements, newest first (by the day they describe, then as recorded)."""
    t = financial_statements
    query = (
        select(t)
        .where(t.c.case_id == case_id)
        .order_by(t.c.statement_date.desc(), t.c.recorded_at.desc(), t.c.statement_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def get_statement(conn: AsyncConnection, statement_id: str) -> Row | None:
    return await _get(conn, financial_statements, "statement_id", statement_id)


async def erase_statement_lines(conn: AsyncConnection, case_id: str) -> None:
    t = financial_statements
    await conn.execute(update(t).where(t.c.case_id == case_id).values(entries=[]))
