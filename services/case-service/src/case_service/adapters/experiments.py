"""The experiments' read side on PostgreSQL: each enrolled case's outcomes since its enrolment, and the
arms stopped."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import tables
from case_service.domain.experiments import GUARDS, EnrolledCase

_HARMS = [g for g in GUARDS if g != "vulnerable_harm"]

# One row per case enrolled in [start, end), with what happened to it from its enrolment to `end`.
_ENROLLED = text(
    """
    SELECT e.arm, e.currency, e.placed_minor,
      COALESCE((SELECT sum(r.amount_minor) FROM kpi_recoveries r
                WHERE r.case_id = e.case_id AND r.currency = e.currency
                  AND r.at >= e.enrolled_at AND r.at < :end), 0) AS recovered_minor,
      EXISTS (SELECT 1 FROM kpi_collector_activity a
              WHERE a.case_id = e.case_id AND a.kind = 'right_party_contact'
                AND a.at >= e.enrolled_at AND a.at < :end) AS right_party_contact,
      EXISTS (SELECT 1 FROM kpi_bucket_transitions t
              WHERE t.case_id = e.case_id AND t.to_bucket = 'current'
                AND t.at >= e.enrolled_at AND t.at < :end) AS cured,
      (SELECT count(*) FROM kpi_promises p
       WHERE p.case_id = e.case_id AND p.status = 'kept'
         AND p.made_at >= e.enrolled_at AND p.made_at < :end) AS promises_kept,
      (SELECT count(*) FROM kpi_promises p
       WHERE p.case_id = e.case_id AND p.status = 'broken'
         AND p.made_at >= e.enrolled_at AND p.made_at < :end) AS promises_broken,
      ARRAY(SELECT DISTINCT s.kind FROM kpi_case_signals s
            WHERE s.case_id = e.case_id AND s.at >= e.enrolled_at AND s.at < :end) AS signals
    FROM experiment_enrolments e
    WHERE e.experiment_id = :experiment_id AND e.enrolled_at >= :start AND e.enrolled_at < :end
      AND (CAST(:creditors AS text[]) IS NULL OR e.creditor_id = ANY(CAST(:creditors AS text[])))
    """
)


def _harms(signals: list[str]) -> frozenset[str]:
    harms = {s for s in signals if s in _HARMS}
    if harms and "vulnerability_flagged" in signals:
        harms.add("vulnerable_harm")
    return frozenset(harms)


async def enrolled_cases(
    conn: AsyncConnection,
    experiment_id: str,
    start: datetime,
    end: datetime,
    creditors: frozenset[str] | None = None,
) -> list[EnrolledCase]:
    rows = await conn.execute(
        _ENROLLED,
        {
            "experiment_id": experiment_id,
            "start": start,
            "end": end,
            "creditors": None if creditors is None else sorted(creditors),
        },
    )
    return [
        EnrolledCase(
            arm=r.arm,
            currency=r.currency,
            placed_minor=int(r.placed_minor),
            recovered_minor=int(r.recovered_minor),
            right_party_contact=bool(r.right_party_contact),
            cured=bool(r.cured),
            promises_kept=int(r.promises_kept),
            promises_broken=int(r.promises_broken),
            harms=_harms(list(r.signals)),
        )
        for r in rows
    ]


async def first_enrolment(conn: AsyncConnection, experiment_id: str) -> datetime | None:
    e = tables.experiment_enrolments.c
    row = await conn.execute(
        select(e.enrolled_at).where(e.experiment_id == experiment_id).order_by(e.enrolled_at).limit(1)
    )
    found = row.scalar_one_or_none()
    return found if isinstance(found, datetime) else None


async def stops(conn: AsyncConnection) -> dict[tuple[str, str], dict[str, Any]]:
    s = tables.experiment_arm_stops.c
    rows = await conn.execute(select(s.experiment_id, s.arm, s.stopped_at, s.reason, s.detail))
    return {
        (r.experiment_id, r.arm): {"stopped_at": r.stopped_at, "reason": r.reason, "detail": r.detail}
        for r in rows
    }


async def stop_arm(
    conn: AsyncConnection, experiment_id: str, arm: str, at: datetime, reason: str, detail: Mapping[str, Any]
) -> bool:
    """Record the stop; False when the arm was already stopped (by another replica's review)."""
    result = await conn.execute(
        pg_insert(tables.experiment_arm_stops)
        .values(experiment_id=experiment_id, arm=arm, stopped_at=at, reason=reason, detail=dict(detail))
        .on_conflict_do_nothing()
        .returning(tables.experiment_arm_stops.c.arm)
    )
    return result.first() is not None


async def open_case_ids_in_arm(
    conn: AsyncConnection, experiment_id: str, arm: str, after: str | None, limit: int
) -> list[str]:
    """Open cases currently given the arm, in case id order after `after`."""
    c = tables.cases.c
    query = select(c.case_id).where(
        c.status == "open", c.experiment_id == experiment_id, c.experiment_arm == arm
    )
    if after is not None:
        query = query.where(c.case_id > after)
    rows = await conn.execute(query.order_by(c.case_id).limit(limit))
    return [str(r[0]) for r in rows]
