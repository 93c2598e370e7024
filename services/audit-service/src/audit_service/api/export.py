"""`GET /audit/export`: the trail as JSON Lines or CSV, streamed from a server-side cursor."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends
from starlette.responses import StreamingResponse

from audit_service.adapters import trail
from audit_service.api.deps import (
    AUDIT_ROLES,
    EntryFilterDep,
    PoolDep,
    RevealsPii,
    RuntimeDep,
)
from audit_service.api.views import CSV_COLUMNS, csv_row, export_line
from dcp_platform.auth import require_roles

router = APIRouter(prefix="/audit", tags=["export"], dependencies=[Depends(require_roles(*AUDIT_ROLES))])


@router.get("/export")
async def export(
    reveal: RevealsPii,
    pool: PoolDep,
    runtime: RuntimeDep,
    flt: EntryFilterDep,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> StreamingResponse:
    """Entries in chain order (topic, partition, seq). JSON Lines carry each entry's canonical bytes for
    roles that may see personal data; the standalone verifier rehashes them."""

    async def lines() -> AsyncIterator[bytes]:
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            if format == "csv":
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                writer.writerow(CSV_COLUMNS)
                async for row in trail.stream_entries(conn, flt, chain_order=True):
                    writer.writerow(csv_row(row, reveal=reveal, keys=runtime.keys))
                    if buffer.tell() > 65536:
                        yield buffer.getvalue().encode()
                        buffer.seek(0)
                        buffer.truncate()
                yield buffer.getvalue().encode()
            else:
                chunk: list[str] = []
                async for row in trail.stream_entries(conn, flt, chain_order=True):
                    chunk.append(
                        json.dumps(
                            export_line(row, reveal=reveal, salts=runtime.salts, keys=runtime.keys),
                            ensure_ascii=False,
                        )
                    )
                    if len(chunk) >= 500:
                        yield ("\n".join(chunk) + "\n").encode()
                        chunk = []
                if chunk:
                    yield ("\n".join(chunk) + "\n").encode()

    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    filename = f"audit-trail.{format}"
    return StreamingResponse(
        lines(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
