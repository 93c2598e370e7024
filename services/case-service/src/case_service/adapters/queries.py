"""Read-side queries over the case list and the KPI projections."""

# ruff: noqa: S608 - the SQL spliced into these queries is the module's constant creditor-scope
# fragments; every value is a bound parameter.

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import tables


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    stage: str | None = None
    bucket: str | None = None
    assignee_id: str | None = None
    assignee_kind: str | None = None
    jurisdiction: str | None = None
    currency: str | None = None
    balance_min: int | None = None
    balance_max: int | None = None
    # Any of these (assignee kind, assignee id) pairs: a collector's own, team and agency cases.
    assigned_to_any: tuple[tuple[str, str], ...] | None = None
    # The creditors whose cases may be listed (None: every creditor's).
    creditors: tuple[str, ...] | None = None


def encode_cursor(case_id: str) -> str:
    return base64.urlsafe_b64encode(case_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    padded = cursor + "=" * (-len(cursor) % 4)
    return base64.urlsafe_b64decode(padded.encode()).decode()


LIST_COLUMNS = [
    *(
        c
        for c in tables.cases.columns
        if c.name not in ("detail", "next_ageing_on", "placed_minor", "recovered_minor")
    ),
    # the list shows the time-bar date without the detail document
    tables.cases.c.detail["limitation"]["time_barred_at"].astext.label("limitation_time_barred_at"),
]


async def list_cases(
    conn: AsyncConnection, flt: CaseFilter, *, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    c = tables.cases.c
    conditions = []
    for column, value in (
        (c.status, flt.status),
        (c.stage, flt.stage),
        (c.bucket, flt.bucket),
        (c.assignee_id, flt.assignee_id),
        (c.assignee_kind, flt.assignee_kind),
        (c.jurisdiction, flt.jurisdiction),
        (c.currency, flt.currency),
    ):
        if value is not None:
            conditions.append(column == value)
    if flt.balance_min is not None:
        conditions.append(c.balance_minor >= flt.balance_min)
    if flt.balance_max is not None:
        conditions.append(c.balance_minor <= flt.balance_max)
    if flt.assigned_to_any is not None:
        conditions.append(
            or_(
                False,
                *(
                    and_(c.assignee_kind == kind, c.assignee_id == ident)
                    for kind, ident in flt.assigned_to_any
                ),
            )
        )
    if flt.creditors is not None:
        conditions.append(c.creditor_id.in_(flt.creditors))
    if after is not None:
        conditions.append(c.case_id > after)
    query = select(*LIST_COLUMNS).where(and_(True, *conditions)).order_by(c.case_id).limit(limit + 1)
    rows = [dict(r._mapping) for r in await conn.execute(query)]
    next_cursor = encode_cursor(rows[limit - 1]["case_id"]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def case_summary(conn: AsyncConnection, case_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(tables.cases).where(tables.cases.c.case_id == case_id))).first()
    return None if row is None else dict(row._mapping)


# Creditor isolation in the KPI queries: `:creditors` NULL is every creditor's cases.
_ALL = "CAST(:creditors AS text[]) IS NULL"
_OF_CASES = f"({_ALL} OR creditor_id = ANY(CAST(:creditors AS text[])))"
_OF_C = f"({_ALL} OR c.creditor_id = ANY(CAST(:creditors AS text[])))"
_OF_CASE_ID = (
    f"({_ALL} OR case_id IN (SELECT case_id FROM cases WHERE creditor_id = ANY(CAST(:creditors AS text[]))))"
)


def _scope(creditors: frozenset[str] | None) -> list[str] | None:
    return None if creditors is None else sorted(creditors)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


async def portfolio(
    conn: AsyncConnection, start: datetime, end: datetime, creditors: frozenset[str] | None = None
) -> dict[str, Any]:
    """Portfolio figures over the cases of `creditors` (None: every creditor's)."""
    scope = {"creditors": _scope(creditors)}
    distribution = [
        {**r._mapping, "cases": int(r.cases), "balance_minor": int(r.balance_minor or 0)}
        for r in await conn.execute(
            text(
                "SELECT bucket, stage, currency, count(*) AS cases, sum(balance_minor) AS balance_minor"
                f" FROM cases WHERE status = 'open' AND {_OF_CASES}"
                " GROUP BY bucket, stage, currency ORDER BY 1, 2, 3"
            ),
            scope,
        )
    ]
    roll = [
        dict(r._mapping)
        for r in await conn.execute(
            text(
                """
                WITH start_state AS (
                    SELECT DISTINCT ON (case_id) case_id, to_bucket AS bucket FROM kpi_bucket_transitions
                    WHERE at < :start ORDER BY case_id, at DESC, id DESC
                ), end_state AS (
                    SELECT DISTINCT ON (case_id) case_id, to_bucket AS bucket FROM kpi_bucket_transitions
                    WHERE at < :end ORDER BY case_id, at DESC, id DESC
                )
                SELECT s.bucket AS from_bucket,
                       CASE WHEN c.closed_at IS NOT NULL AND c.closed_at < :end
                            THEN 'closed:' || c.close_reason ELSE e.bucket END AS to_bucket,
                       count(*) AS cases
                FROM start_state s JOIN end_state e USING (case_id) JOIN cases c USING (case_id)
                WHERE (c.closed_at IS NULL OR c.closed_at >= :start) AND """
                + _OF_C
                + """
                GROUP BY 1, 2 ORDER BY 1, 2
                """
            ),
            {"start": start, "end": end, **scope},
        )
    ]
    totals: dict[str, int] = {}
    for r in roll:
        totals[r["from_bucket"]] = totals.get(r["from_bucket"], 0) + r["cases"]
    for r in roll:
        r["rate"] = _rate(r["cases"], totals[r["from_bucket"]])
    cure = (
        await conn.execute(
            text(
                """
                WITH start_state AS (
                    SELECT DISTINCT ON (case_id) case_id, to_bucket AS bucket FROM kpi_bucket_transitions
                    WHERE at < :start ORDER BY case_id, at DESC, id DESC
                ), delinquent AS (
                    SELECT s.case_id FROM start_state s JOIN cases c USING (case_id)
                    WHERE s.bucket <> 'current' AND (c.closed_at IS NULL OR c.closed_at >= :start)
                      AND """
                + _OF_C
                + """
                )
                SELECT count(*) AS delinquent_at_start,
                       count(*) FILTER (WHERE EXISTS (
                           SELECT 1 FROM kpi_bucket_transitions t WHERE t.case_id = d.case_id
                           AND t.to_bucket = 'current' AND t.at >= :start AND t.at < :end)) AS cured
                FROM delinquent d
                """
            ),
            {"start": start, "end": end, **scope},
        )
    ).one()
    recovery = await _recovery(conn, start, end, scope)
    return {
        "period": {"from": start, "to": end},
        "distribution": distribution,
        "recovery": recovery,
        "roll_rates": roll,
        "cure": {
            "delinquent_at_start": cure.delinquent_at_start,
            "cured": cure.cured,
            "rate": _rate(cure.cured, cure.delinquent_at_start),
        },
    }


async def _recovery(
    conn: AsyncConnection, start: datetime, end: datetime, scope: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per currency, over every case placed (open or closed): the amount placed, the net amount
    recovered (payments less reversals) to date and its rate; and the net amount recovered in the
    period."""
    totals = await conn.execute(
        text(
            "SELECT currency, count(*) AS cases, coalesce(sum(placed_minor), 0) AS placed_minor,"
            " coalesce(sum(recovered_minor), 0) AS recovered_minor"
            f" FROM cases WHERE {_OF_CASES} GROUP BY currency ORDER BY currency"
        ),
        scope,
    )
    in_period = {
        r.currency: int(r.amount_minor)
        for r in await conn.execute(
            text(
                "SELECT currency, sum(amount_minor) AS amount_minor FROM kpi_recoveries"
                f" WHERE at >= :start AND at < :end AND {_OF_CASE_ID} GROUP BY currency"
            ),
            {"start": start, "end": end, **scope},
        )
    }
    out = []
    for r in totals:
        placed, recovered = int(r.placed_minor), int(r.recovered_minor)
        out.append(
            {
                "currency": r.currency,
                "cases": int(r.cases),
                "placed_minor": placed,
                "recovered_minor": recovered,
                "recovery_rate": _rate(recovered, placed),
                "recovered_in_period_minor": in_period.get(r.currency, 0),
            }
        )
    return out


async def strategies(conn: AsyncConnection, creditors: frozenset[str] | None = None) -> list[dict[str, Any]]:
    c = tables.cases.c
    scoped = true() if creditors is None else c.creditor_id.in_(sorted(creditors))
    rows = await conn.execute(
        select(
            c.strategy_id,
            c.experiment_id,
            c.experiment_arm,
            c.currency,
            func.count().label("cases"),
            func.sum(c.placed_minor).label("placed_minor"),
            func.sum(c.recovered_minor).label("recovered_minor"),
        )
        .where(scoped)
        .group_by(c.strategy_id, c.experiment_id, c.experiment_arm, c.currency)
        .order_by(c.experiment_id, c.experiment_arm, c.strategy_id, c.currency)
    )
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["placed_minor"] = int(item["placed_minor"] or 0)
        item["recovered_minor"] = int(item["recovered_minor"] or 0)
        item["recovery_rate"] = _rate(item["recovered_minor"], item["placed_minor"])
        out.append(item)
    return out


async def collectors(
    conn: AsyncConnection, start: datetime, end: datetime, creditors: frozenset[str] | None = None
) -> list[dict[str, Any]]:
    params = {"start": start, "end": end, "creditors": _scope(creditors)}
    activity = await conn.execute(
        text(
            """
            SELECT collector_id,
                   count(*) FILTER (WHERE kind = 'attempt') AS attempts,
                   count(*) FILTER (WHERE kind = 'right_party_contact') AS right_party_contacts,
                   count(*) FILTER (WHERE kind = 'promise_made') AS promises_made
            FROM kpi_collector_activity WHERE at >= :start AND at < :end AND """
            + _OF_CASE_ID
            + """
            GROUP BY collector_id
            """
        ),
        params,
    )
    by_id: dict[str, dict[str, Any]] = {}

    def entry(collector_id: str) -> dict[str, Any]:
        return by_id.setdefault(
            collector_id,
            {
                "collector_id": collector_id,
                "open_cases": 0,
                "attempts": 0,
                "right_party_contacts": 0,
                "promises_made": 0,
                "promises_kept": 0,
                "promises_broken": 0,
                "recovered": [],
            },
        )

    for r in activity:
        entry(r.collector_id).update({k: v for k, v in r._mapping.items() if k != "collector_id"})
    settled = await conn.execute(
        text(
            "SELECT collector_id, count(*) FILTER (WHERE status = 'kept') AS promises_kept,"
            " count(*) FILTER (WHERE status = 'broken') AS promises_broken FROM kpi_promises"
            " WHERE collector_id IS NOT NULL AND made_at >= :start AND made_at < :end"
            f" AND {_OF_CASE_ID} GROUP BY collector_id"
        ),
        params,
    )
    for r in settled:
        entry(r.collector_id).update(promises_kept=r.promises_kept, promises_broken=r.promises_broken)
    loads = await conn.execute(
        text(
            "SELECT assignee_id, count(*) AS n FROM cases"
            f" WHERE status = 'open' AND assignee_kind = 'collector' AND {_OF_CASES} GROUP BY assignee_id"
        ),
        params,
    )
    for r in loads:
        entry(r.assignee_id)["open_cases"] = r.n
    recovered = await conn.execute(
        text(
            "SELECT assignee_id, currency, sum(amount_minor) AS amount_minor FROM kpi_recoveries"
            " WHERE assignee_kind = 'collector' AND at >= :start AND at < :end"
            f" AND {_OF_CASE_ID} GROUP BY assignee_id, currency"
            " ORDER BY currency"
        ),
        params,
    )
    for r in recovered:
        entry(r.assignee_id)["recovered"].append(
            {"amount_minor": int(r.amount_minor), "currency": r.currency}
        )
    for item in by_id.values():
        item["right_party_contact_rate"] = _rate(item["right_party_contacts"], item["attempts"])
        item["promise_rate"] = _rate(item["promises_made"], item["right_party_contacts"])
        item["promise_kept_rate"] = _rate(
            item["promises_kept"], item["promises_kept"] + item["promises_broken"]
        )
    return [by_id[k] for k in sorted(by_id)]


async def existing_case_ids(conn: AsyncConnection, case_ids: list[str]) -> set[str]:
    """Which of `case_ids` are already open or closed here."""
    if not case_ids:
        return set()
    rows = await conn.execute(select(tables.cases.c.case_id).where(tables.cases.c.case_id.in_(case_ids)))
    return {r.case_id for r in rows}


async def case_ids_of_debtor(conn: AsyncConnection, debtor_id: str) -> list[str]:
    rows = await conn.execute(
        select(tables.cases.c.case_id)
        .where(tables.cases.c.detail["debtor"]["debtor_id"].astext == debtor_id)
        .order_by(tables.cases.c.case_id)
    )
    return [r.case_id for r in rows]


async def case_ids_needing_ageing(conn: AsyncConnection, today: date, limit: int) -> list[str]:
    rows = await conn.execute(
        select(tables.cases.c.case_id)
        .where(tables.cases.c.status == "open", tables.cases.c.next_ageing_on <= today)
        .order_by(tables.cases.c.next_ageing_on, tables.cases.c.case_id)
        .limit(limit)
    )
    return [r.case_id for r in rows]


async def open_case_ids_of_products(
    conn: AsyncConnection, products: Sequence[str], after: str | None, limit: int
) -> list[str]:
    c = tables.cases.c
    query = select(c.case_id).where(c.status == "open", c.product.in_(list(products)))
    if after is not None:
        query = query.where(c.case_id > after)
    rows = await conn.execute(query.order_by(c.case_id).limit(limit))
    return [r.case_id for r in rows]


async def legal(conn: AsyncConnection, creditors: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """The legal stage per currency: matters awaiting approval, referred, with a claim, judged and in
    enforcement; the judgments' sum, the costs added and what was recovered since referral."""
    rows = await conn.execute(
        text(
            """
            SELECT currency,
                   count(*) FILTER (WHERE detail->'legal'->>'status' = 'requested') AS awaiting_approval,
                   count(*) FILTER (WHERE detail->'legal'->>'referred_at' IS NOT NULL) AS referred,
                   count(*) FILTER (WHERE detail->'legal'->>'claim_reference' IS NOT NULL) AS claims,
                   count(*) FILTER (WHERE detail->'legal'->>'judgment_on' IS NOT NULL) AS judgments,
                   count(*) FILTER (WHERE detail->'legal'->>'status' = 'enforcement') AS in_enforcement,
                   count(*) FILTER (WHERE detail->'legal'->>'status' = 'withdrawn') AS withdrawn,
                   coalesce(sum((detail->'legal'->>'judgment_minor')::bigint), 0) AS judgments_minor,
                   coalesce(sum((detail->'legal'->>'costs_minor')::bigint), 0) AS costs_minor,
                   coalesce(sum((detail->'legal'->>'recovered_minor')::bigint), 0) AS recovered_minor,
                   coalesce(sum(placed_minor) FILTER (WHERE detail->'legal'->>'referred_at' IS NOT NULL), 0)
                       AS referred_placed_minor
            FROM cases
            WHERE jsonb_typeof(detail->'legal') = 'object' AND """
            + _OF_CASES
            + " GROUP BY currency ORDER BY currency"
        ),
        {"creditors": _scope(creditors)},
    )
    out = []
    for r in rows:
        item: dict[str, Any] = {k: v if k == "currency" else int(v) for k, v in r._mapping.items()}
        item["judgment_rate"] = _rate(item["judgments"], item["claims"])
        item["legal_recovery_rate"] = _rate(item["recovered_minor"], item["referred_placed_minor"])
        out.append(item)
    return out
