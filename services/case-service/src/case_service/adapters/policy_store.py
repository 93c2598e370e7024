"""The policy versions on PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import tables

_T = tables.policy_versions


async def versions(conn: AsyncConnection, name: str) -> list[dict[str, Any]]:
    rows = await conn.execute(select(_T).where(_T.c.name == name).order_by(_T.c.version))
    return [dict(r._mapping) for r in rows]


async def version(
    conn: AsyncConnection, name: str, number: int, *, lock: bool = False
) -> dict[str, Any] | None:
    query = select(_T).where(_T.c.name == name, _T.c.version == number)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    return None if row is None else dict(row._mapping)


async def insert_version(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    await conn.execute(insert(_T).values(**row))


async def update_version(conn: AsyncConnection, name: str, number: int, values: Mapping[str, Any]) -> None:
    await conn.execute(update(_T).where(_T.c.name == name, _T.c.version == number).values(**values))
