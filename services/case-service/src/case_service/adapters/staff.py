"""Staff directory (collectors and external agencies with capacity and qualifications) and their loads.

Reference data maintained by supervisors through PUT /staff/{id}; not event-sourced.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import tables
from case_service.domain.assignment import Candidate, Qualification, StaffMember
from dcp_events.catalogue.enums import AssigneeKind


def member_from_row(row: Any) -> StaffMember:
    return StaffMember(
        kind=AssigneeKind(row.kind),
        id=row.staff_id,
        capacity=row.capacity,
        team=row.team,
        active=row.active,
        qualifications=tuple(
            Qualification(
                jurisdictions=frozenset(q["jurisdictions"]),
                languages=frozenset(q["languages"]),
                channels=frozenset(q.get("channels", [])),
                expires_on=date.fromisoformat(q["expires_on"]) if q.get("expires_on") else None,
            )
            for q in row.qualifications
        ),
    )


def qualifications_json(member: StaffMember) -> list[dict[str, Any]]:
    return [
        {
            "jurisdictions": sorted(q.jurisdictions),
            "languages": sorted(q.languages),
            "channels": sorted(q.channels),
            "expires_on": q.expires_on.isoformat() if q.expires_on else None,
        }
        for q in member.qualifications
    ]


async def upsert_member(conn: AsyncConnection, member: StaffMember, now: datetime) -> None:
    values = {
        "staff_id": member.id,
        "kind": member.kind.value,
        "team": member.team,
        "capacity": member.capacity,
        "active": member.active,
        "qualifications": qualifications_json(member),
        "updated_at": now,
    }
    stmt = pg_insert(tables.staff).values(values)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[tables.staff.c.staff_id],
            set_={k: v for k, v in values.items() if k != "staff_id"},
        )
    )


async def get_member(conn: AsyncConnection, staff_id: str) -> StaffMember | None:
    row = (await conn.execute(select(tables.staff).where(tables.staff.c.staff_id == staff_id))).first()
    return member_from_row(row) if row is not None else None


async def list_members(conn: AsyncConnection) -> list[StaffMember]:
    rows = await conn.execute(select(tables.staff).order_by(tables.staff.c.staff_id))
    return [member_from_row(r) for r in rows]


async def candidates(conn: AsyncConnection, kind: AssigneeKind | None = None) -> list[Candidate]:
    """Active staff with their open-case counts (locked for the transaction: loads stay true)."""
    query = select(tables.staff).where(tables.staff.c.active.is_(True))
    if kind is not None:
        query = query.where(tables.staff.c.kind == kind.value)
    members = [member_from_row(r) for r in await conn.execute(query.with_for_update())]
    if not members:
        return []
    loads: dict[str, int] = dict(
        (
            await conn.execute(
                select(tables.cases.c.assignee_id, func.count())
                .where(
                    tables.cases.c.status == "open",
                    tables.cases.c.assignee_id.in_([m.id for m in members]),
                )
                .group_by(tables.cases.c.assignee_id)
            )
        ).all()
    )
    return [Candidate(m, int(loads.get(m.id, 0))) for m in members]


async def team_cursor(conn: AsyncConnection, team: str) -> str | None:
    row = (
        await conn.execute(
            select(tables.team_cursors.c.last_assigned)
            .where(tables.team_cursors.c.team == team)
            .with_for_update()
        )
    ).first()
    return None if row is None else str(row.last_assigned)


async def move_team_cursor(conn: AsyncConnection, team: str, last: str) -> None:
    stmt = pg_insert(tables.team_cursors).values(team=team, last_assigned=last)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=[tables.team_cursors.c.team], set_={"last_assigned": last})
    )
