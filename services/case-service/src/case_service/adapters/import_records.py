"""The bulk import's own records: one row per import with its progress, and the rows it refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from case_service.adapters import tables
from case_service.application.commands import CreateImport


def new_import_row(record: CreateImport, created_at: datetime) -> dict[str, Any]:
    """The `imports` row of an import just created (queued)."""
    return {
        "import_id": record.import_id,
        "status": "queued",
        "format": record.fmt,
        "filename": record.filename,
        "actor": record.actor,
        "bytes_total": record.bytes_total,
        "created_at": created_at,
    }


async def insert_import(conn: AsyncConnection, record: CreateImport, created_at: datetime) -> None:
    await conn.execute(insert(tables.imports).values(new_import_row(record, created_at)))


async def update_import(conn: AsyncConnection, import_id: str, values: dict[str, Any]) -> None:
    await conn.execute(update(tables.imports).where(tables.imports.c.import_id == import_id).values(values))


async def insert_rejections(conn: AsyncConnection, rejections: list[dict[str, Any]]) -> None:
    if rejections:
        await conn.execute(insert(tables.import_rejections), rejections)


async def import_status(
    conn: AsyncConnection, import_id: str, rejections_limit: int = 1000
) -> dict[str, Any] | None:
    row = (await conn.execute(select(tables.imports).where(tables.imports.c.import_id == import_id))).first()
    if row is None:
        return None
    rejections = await conn.execute(
        select(tables.import_rejections.c.row_number, tables.import_rejections.c.reason)
        .where(tables.import_rejections.c.import_id == import_id)
        .order_by(tables.import_rejections.c.row_number)
        .limit(rejections_limit)
    )
    status = dict(row._mapping)
    status["rejections"] = [{"row": r.row_number, "reason": r.reason} for r in rejections]
    status["rejections_truncated"] = status["rejected"] > len(status["rejections"])
    return status
